"""Uploaded images (delivery proof, receipts), stored outside the web root."""
