"""Farm help: shifts, sign-ups, check-in and check-out, hours."""
