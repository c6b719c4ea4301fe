"""availability feature."""
