"""Recommendations and season planning (being written)."""

from flask import Blueprint

bp = Blueprint("matching", __name__)
