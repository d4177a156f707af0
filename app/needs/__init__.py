"""Households (private) and their needs (public once verified), with the need lifecycle."""
