"""Template globals: labels, places, the locale switch."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from app.accounts.models import Role
from app.labels import label, light_reason
from app.places import gazetteer


def place_name(code: str | None) -> str:
    if not code:
        return ""
    place = gazetteer.get(code)
    if place is None:
        return code
    locale = str(get_locale() or "zh")
    if place.level == "district":
        city = gazetteer.city_of(code)
        return f"{city.name(locale)} · {place.name(locale)}"
    return place.name(locale)


def query_with(**changes: Any) -> str:
    """The current query string with some parameters changed (for pagination links)."""
    from urllib.parse import urlencode

    args = request.args.to_dict()
    for key, value in changes.items():
        if value in (None, ""):
            args.pop(key, None)
        else:
            args[key] = value
    return "?" + urlencode(args) if args else "?"


def register_template_helpers(app: Flask) -> None:
    from app.localtime import FILTERS

    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals.update(
        label=label,
        light_reason=light_reason,
        place_name=place_name,
        query_with=query_with,
        Role=Role,
        csrf_token=generate_csrf,
        current_locale=lambda: str(get_locale() or "zh"),
    )
