"""reservations feature."""
