"""Matching engine: pure Python, no Flask. Takes plain data, returns plain data."""
