"""The public need pages: list, search, map and a need's page with the ways to help."""
