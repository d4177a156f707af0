"""Absolute links to the site, built from ``SITE_URL`` (also outside requests).

Never from the request's Host header: a forged Host must not put someone else's domain
into a genuine email or a payment provider's return address.
"""

from __future__ import annotations

from typing import Any

from flask import current_app


def site_url(endpoint: str, **values: Any) -> str:
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return str(current_app.config["SITE_URL"]).rstrip("/") + path
