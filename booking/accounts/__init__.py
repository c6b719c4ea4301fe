"""Accounts: citizens, facility managers, admins; tokens and per-object access."""
