"""Search: one interface, several backends (no view code)."""
