"""feeds feature."""
