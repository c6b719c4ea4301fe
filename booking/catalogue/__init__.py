"""catalogue feature."""
