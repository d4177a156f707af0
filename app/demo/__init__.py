"""The demo a fresh install shows: composed from every domain (nothing imports it back)."""
