"""Open data out: the catalogue in the national standard's columns, monthly usage, free slots."""
