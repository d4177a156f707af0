"""Matching people to work: adapts the database to the pure engine in ``matching/``."""
