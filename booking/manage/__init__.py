"""The manager's desk: what the manager pages read about one institution."""
