"""How stored values are shown: times in Asia/Shanghai (stored in UTC), numbers grouped.

Times are stored in UTC and shown in Asia/Shanghai, one way, everywhere.

Pages use the Jinja filters ``local_datetime``, ``local_date`` and ``local_time``; emails,
CSV files and the sweep's messages call the same functions; the API sends ISO 8601 with the
+08:00 offset (:class:`LocalDateTime`). Nothing formats a stored datetime any other way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import fields

from app.models_base import CHINA


def to_local(moment: datetime) -> datetime:
    """The same instant on Beijing's clock (a naive value is taken to be UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA)


def local_datetime(moment: datetime | None) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def local_date(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return to_local(moment).date().isoformat()
    return moment.isoformat()


def local_time(moment: datetime | None) -> str:
    return to_local(moment).strftime("%H:%M") if moment else ""


def local_iso(moment: datetime | None) -> str:
    """For ``<time datetime=...>`` and machine-readable exports: ISO 8601 with +08:00."""
    return to_local(moment).isoformat(timespec="seconds") if moment else ""


class LocalDateTime(fields.DateTime):
    """An API datetime in ISO 8601 with Beijing's offset (the same instant as UTC)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return local_iso(value)


def thousands(value: object) -> str:
    """12345 -> "12,345" (Chinese and English both group by thousands on this site)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"  # type: ignore[call-overload]


def yuan_from_minor(value: int | None) -> str:
    """An amount kept in fen, shown in yuan with two decimals and separators."""
    return f"{(value or 0) / 100:,.2f}"


FILTERS = {
    "thousands": thousands,
    "yuan_from_minor": yuan_from_minor,
    "local_datetime": local_datetime,
    "local_date": local_date,
    "local_time": local_time,
    "local_iso": local_iso,
}
