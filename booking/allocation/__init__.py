"""Fair allocation of contested rooms: lottery rounds with verifiable draws, waitlists with
offers, monthly caps and no-show strikes (issue 13)."""
