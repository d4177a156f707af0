"""``flask --app wsgi search ...`` (being written)."""

from flask import Flask


def register_cli(app: Flask) -> None:
    """Add the search commands to the app's CLI."""
