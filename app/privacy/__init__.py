"""The privacy guard: one detector for every path that writes public text.

Everything that ends up on a public page, in a non-staff JSON response or in the search
index (need titles, stories, items, tasks, thank-you notes, shift meeting points, donated
items, anything added later) is checked with :func:`check_public_text` before it is stored.
Certain findings refuse the text, naming and highlighting the offending part; unsure ones are
left to the verifier (:func:`review_findings`), whose review page shows them.

The household's own private values come from :func:`app.privacy.household.private_values`,
which reads the household record (and its members, once households have them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.errors import ValidationFailed
from app.privacy.detector import Finding, FindingKind, PrivateValues, certain, scan
from app.privacy.household import private_values

__all__ = [
    "Finding",
    "FindingKind",
    "PrivateTextFound",
    "PrivateValues",
    "check_public_text",
    "explain",
    "field_findings",
    "highlight",
    "private_values",
    "refusals",
    "review_findings",
    "scan",
]

_EXPLANATIONS = {
    FindingKind.ADDRESS: _l(
        "“%(part)s” looks like an exact address. Public text may name the district or town, "
        "never the road, village group, building, room or house number."
    ),
    FindingKind.PHONE: _l(
        "“%(part)s” looks like a mobile phone number. Donors reach the household only through "
        "the caseworker; leave phone numbers out."
    ),
    FindingKind.LANDLINE: _l(
        "“%(part)s” looks like a telephone number. Leave phone numbers out of public text."
    ),
    FindingKind.ID_NUMBER: _l(
        "“%(part)s” looks like an ID card number. ID numbers never appear in public text."
    ),
    FindingKind.BANK_CARD: _l(
        "“%(part)s” looks like a bank card or account number. Money goes through the site, "
        "never to an account written in a story."
    ),
    FindingKind.PLATE: _l("“%(part)s” looks like a licence plate. Leave it out."),
    FindingKind.EMAIL: _l("“%(part)s” is an email address. Leave contact details out."),
    FindingKind.CONTACT: _l("“%(part)s” is a WeChat or QQ account. Leave contact details out."),
    FindingKind.HOUSEHOLD: _l(
        "“%(part)s” is in the household's private record (a name, number or part of the "
        "address). Describe the need without it."
    ),
    FindingKind.NUMBER: _l(
        "“%(part)s” is a long number that might identify someone. Check it is not an ID, "
        "phone or account number."
    ),
}


def explain(finding: Finding) -> str:
    """A plain sentence saying what was found and what to do instead."""
    return str(_EXPLANATIONS[finding.kind] % {"part": finding.excerpt.strip()})


def highlight(text: str, findings: list[Finding]) -> Markup:
    """``text`` escaped, with each finding wrapped in ``<mark>``."""
    out = []
    pos = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < pos:
            continue
        out.append(escape(text[pos : finding.start]))
        css = "privacy-hit" if finding.certain else "privacy-hit unsure"
        out.append(Markup('<mark class="%s">%s</mark>') % (css, text[finding.start : finding.end]))
        pos = finding.end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


class PrivateTextFound(ValidationFailed):
    """Public text that would identify or locate a household. Carries, per field, the text
    with the offending parts marked, so a form can show exactly what to change."""

    def __init__(
        self, message: Any, errors: dict[str, list[str]], highlights: dict[str, Markup]
    ) -> None:
        super().__init__(message, errors)
        self.highlights = highlights


def _values(household: Any | None) -> PrivateValues | None:
    return private_values(household) if household is not None else None


def field_findings(
    fields: Mapping[str, str | None], household: Any | None = None
) -> dict[str, list[Finding]]:
    """Every finding (certain and unsure) per field that has any."""
    values = _values(household)
    found = {name: scan(text or "", values) for name, text in fields.items()}
    return {name: hits for name, hits in found.items() if hits}


def _refused(
    fields: Mapping[str, str | None],
    household: Any | None,
    allow: frozenset[FindingKind],
) -> tuple[dict[str, list[str]], dict[str, Markup]]:
    errors: dict[str, list[str]] = {}
    highlights: dict[str, Markup] = {}
    for name, findings in field_findings(fields, household).items():
        sure = [f for f in certain(findings) if f.kind not in allow]
        if sure:
            errors[name] = [explain(f) for f in sure]
            highlights[name] = highlight(fields[name] or "", sure)
    return errors, highlights


def refusals(
    fields: Mapping[str, str | None],
    household: Any | None = None,
    allow: frozenset[FindingKind] = frozenset(),
) -> dict[str, list[str]]:
    """Field errors for services that collect several problems before failing (CSV rows)."""
    return _refused(fields, household, allow)[0]


def check_public_text(
    fields: Mapping[str, str | None],
    household: Any | None = None,
    allow: frozenset[FindingKind] = frozenset(),
) -> None:
    """Refuse public text with anything certain in it: raise :class:`PrivateTextFound`
    with one message per offending part, and the field's text with the parts marked.

    ``allow`` lets a field carry a kind on purpose (a shift's meeting point is a place,
    shown only to the volunteers who signed up)."""
    errors, highlights = _refused(fields, household, allow)
    if errors:
        raise PrivateTextFound(
            _l("The public text would identify the household. Change the marked parts."),
            errors,
            highlights,
        )


def review_findings(
    fields: Mapping[str, str | None], household: Any | None = None
) -> list[tuple[str, Finding, str]]:
    """For the verifier: (field, finding, explanation) for everything found, sure or not."""
    return [
        (name, finding, explain(finding))
        for name, findings in field_findings(fields, household).items()
        for finding in findings
    ]
