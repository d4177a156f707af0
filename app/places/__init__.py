"""Guangdong place gazetteer: cities and county-level districts with WGS-84 points."""
