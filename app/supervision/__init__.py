"""Verification of submitted needs and supervision of an area."""
