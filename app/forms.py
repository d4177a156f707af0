"""Form helpers shared by every domain: place pickers and service-error plumbing."""

from __future__ import annotations

from flask import request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from app.errors import ValidationFailed
from app.places import gazetteer


def district_choices(include_blank: bool = True) -> list[tuple[str, str]]:
    """Districts labelled "city · district" in the visitor's language."""
    locale = str(get_locale() or "zh")
    choices = [("", str(_l("Choose a district")))] if include_blank else []
    for district in gazetteer.districts():
        city = gazetteer.city_of(district.code)
        name = district.name(locale)
        text = name if city.code == district.code else f"{city.name(locale)} · {name}"
        choices.append((district.code, text))
    return choices


def city_choices() -> list[tuple[str, str]]:
    locale = str(get_locale() or "zh")
    return [(c.code, c.name(locale)) for c in gazetteer.cities()]


def area_choices() -> list[tuple[str, str]]:
    """Province, cities and districts: the areas a verifier may supervise."""
    locale = str(get_locale() or "zh")
    province = gazetteer.province()
    return (
        [(province.code, province.name(locale))]
        + [(c.code, c.name(locale)) for c in gazetteer.cities()]
        + district_choices(include_blank=False)
    )


def apply_service_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """Show a service's field errors next to the form's fields."""
    highlights = getattr(error, "highlights", {})  # privacy findings, marked in the text
    for name, messages in error.errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(messages)
            if name in highlights:
                field.privacy_highlight = highlights[name]
        else:
            form.form_errors.extend(messages)
    if not error.errors:
        form.form_errors.append(str(error.message))


def follow_up_days() -> int | None:
    """Days until the follow-up visit, from the confirming form, within a year (None: the
    configured default)."""
    days = request.form.get("follow_up_days", type=int)
    return None if days is None else max(0, min(days, 365))
