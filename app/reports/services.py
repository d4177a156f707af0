"""Dashboard figures, read from the rollups; the lists behind them, read from the needs.

Who sees what: caseworkers their own area, supervisors (verifiers) their city or the
province, admins the province. Nothing here returns a person: counts and sums only. What
companies and the public see goes through :func:`public_summary`, where a cell with fewer
than :data:`SMALL_CELL` households is suppressed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from app.accounts.models import Organisation, Role, User
from app.errors import NotAllowed, ValidationFailed
from app.labels import label
from app.models_base import CHINA, local_today
from app.needs.models import (
    CareCategory,
    Household,
    Light,
    Need,
    NeedEvent,
    NeedKind,
    PersonGroup,
)
from app.places import gazetteer
from app.reports import rollups
from app.reports.models import (
    DurationMonth,
    HouseholdMonth,
    LightCount,
    NeedMonth,
    PublicMonth,
    ValueMonth,
)

SMALL_CELL = 5  # fewer households than this are never shown to companies or the public
GROUP_BY = ("month", "area", "kind", "category", "group")
MEASURES = ("collected", "published", "resolved")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^\d{4}$")


# --- scope and period --------------------------------------------------------------------


def can_see_dashboards(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.CASEWORKER, Role.VERIFIER, Role.ADMIN)


def home_area(user: User) -> str:
    """The widest area a staff member may report on (admins: the province)."""
    if user.has_role(Role.ADMIN):
        return gazetteer.PROVINCE_CODE
    if user.area_code is None or gazetteer.get(user.area_code) is None:
        raise NotAllowed(_l("Your account has no area yet; ask an admin to set it."))
    return user.area_code


def resolve_area(user: User, requested: str | None) -> gazetteer.Place:
    """The area asked for, if the user may see it; their own area otherwise."""
    if not can_see_dashboards(user):
        raise NotAllowed(_l("Only staff see the dashboards."))
    own = home_area(user)
    code = (requested or "").strip() or own
    place = gazetteer.get(code)
    if place is None or not gazetteer.covers(own, code):
        raise NotAllowed(_l("You can only see reports for your own area."))
    return place


def districts_of(area_code: str) -> list[str] | None:
    """The districts an area covers; None for the whole province (no filter needed)."""
    place = gazetteer.get(area_code)
    if place is None:
        return []
    if place.level == "province":
        return None
    if place.level == "city":
        return [d.code for d in gazetteer.districts(place.code)]
    return [place.code]


def area_choices(user: User) -> list[tuple[str, str]]:
    """The areas a user may pick: their own and everything inside it."""
    from app.templating import place_name

    own = gazetteer.get(home_area(user))
    if own is None:
        return []
    options = [own]
    if own.level == "province":
        options += gazetteer.cities()
    if own.level in ("province", "city"):
        options += gazetteer.districts(None if own.level == "province" else own.code)
    return [(p.code, place_name(p.code)) for p in options]


@dataclass(frozen=True)
class Period:
    first: str  # YYYY-MM
    last: str
    key: str  # what the URL says

    @property
    def start_utc(self) -> datetime:
        year, month = (int(x) for x in self.first.split("-"))
        return datetime(year, month, 1, tzinfo=CHINA).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        year, month = (int(x) for x in self.last.split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return datetime(year, month, 1, tzinfo=CHINA).astimezone(UTC)

    @property
    def months(self) -> list[str]:
        out, (year, month) = [], (int(x) for x in self.first.split("-"))
        while f"{year:04d}-{month:02d}" <= self.last:
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


def _shift(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_period(text: str | None, today: date | None = None) -> Period:
    """``last12`` (default: this month and the 11 before), ``YYYY`` or ``YYYY-MM``."""
    today = today or local_today()
    text = (text or "").strip() or "last12"
    if text == "last12":
        return Period(_shift(today, -11), _shift(today, 0), text)
    if _YEAR.match(text) and 2000 <= int(text) <= 2099:
        return Period(f"{text}-01", f"{text}-12", text)
    if _MONTH.match(text) and 2000 <= int(text[:4]) <= 2099:
        return Period(text, text, text)
    raise ValidationFailed(
        _l("Please correct the marked fields."),
        {"period": [str(_l("Use last12, a year (2026) or a month (2026-03)."))]},
    )


def parse_group_by(text: str | None) -> str:
    value = (text or "").strip() or "month"
    if value not in GROUP_BY:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"group_by": [str(_l("Choose one of: %(names)s.", names=", ".join(GROUP_BY)))]},
        )
    return value


def parse_query(period: str | None, group_by: str | None) -> tuple[Period, str]:
    """Both filters at once, reporting every bad one."""
    errors: dict[str, list[str]] = {}
    parsed_period, parsed_group = None, "month"
    try:
        parsed_period = parse_period(period)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        parsed_group = parse_group_by(group_by)
    except ValidationFailed as error:
        errors.update(error.errors)
    if errors or parsed_period is None:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    return parsed_period, parsed_group


# --- the staff summary -----------------------------------------------------------------


def _filtered(query: Any, model: Any, districts: list[str] | None) -> Any:
    return query.where(model.district_code.in_(districts)) if districts is not None else query


def _child_area(area: gazetteer.Place, district_code: str) -> str:
    """The sub-area of ``area`` a district belongs to: cities under the province."""
    if area.level == "province" and gazetteer.get(district_code) is not None:
        return gazetteer.city_of(district_code).code
    return district_code


def _key_label(group_by: str, key: str) -> str:
    from app.templating import place_name

    if group_by == "area":
        return place_name(key)
    enum_cls = {"kind": NeedKind, "category": CareCategory, "group": PersonGroup}.get(group_by)
    if enum_cls is not None:
        try:
            return label(enum_cls(key))
        except ValueError:
            return key
    return key


def needs_by(
    session: Session, area: gazetteer.Place, period: Period, group_by: str
) -> list[dict[str, Any]]:
    """Collected, published and resolved needs per month, sub-area, kind, category or
    person group."""
    districts = districts_of(area.code)
    column = {"month": NeedMonth.month, "area": NeedMonth.district_code}.get(
        group_by, NeedMonth.key
    )
    dimension = group_by if group_by in ("kind", "category", "group") else "all"
    query = _filtered(
        select(
            column,
            func.sum(NeedMonth.collected),
            func.sum(NeedMonth.published),
            func.sum(NeedMonth.resolved),
        )
        .where(
            NeedMonth.dimension == dimension,
            NeedMonth.month >= period.first,
            NeedMonth.month <= period.last,
        )
        .group_by(column),
        NeedMonth,
        districts,
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, collected, published, resolved in session.execute(query):
        bucket = _child_area(area, key) if group_by == "area" else key
        for i, value in enumerate((collected, published, resolved)):
            totals[bucket][i] += int(value or 0)
    keys = period.months if group_by == "month" else sorted(totals)
    return [
        {
            "key": key,
            "label": _key_label(group_by, key),
            "collected": totals[key][0] if key in totals else 0,
            "published": totals[key][1] if key in totals else 0,
            "resolved": totals[key][2] if key in totals else 0,
        }
        for key in keys
    ]


def percentile_hours(histogram: list[tuple[int, int]], share: float) -> int | None:
    """The bucket bound (hours) under which ``share`` of the waits fall."""
    total = sum(count for _bound, count in histogram)
    if total == 0:
        return None
    running = 0
    for bound, count in sorted(histogram):
        running += count
        if running >= share * total:
            return bound
    return sorted(histogram)[-1][0]


def durations(session: Session, area: gazetteer.Place, period: Period) -> dict[str, Any]:
    """Median and 90th percentile of the wait from publication to claim and to
    confirmation (upper bounds of histogram buckets)."""
    query = _filtered(
        select(DurationMonth.measure, DurationMonth.bucket_hours, func.sum(DurationMonth.count))
        .where(DurationMonth.month >= period.first, DurationMonth.month <= period.last)
        .group_by(DurationMonth.measure, DurationMonth.bucket_hours),
        DurationMonth,
        districts_of(area.code),
    )
    histograms: dict[str, list[tuple[int, int]]] = {"claim": [], "confirm": []}
    for measure, bound, count in session.execute(query):
        histograms.setdefault(measure, []).append((int(bound), int(count or 0)))
    return {
        measure: {
            "count": sum(c for _b, c in histogram),
            "median_hours": percentile_hours(histogram, 0.5),
            "p90_hours": percentile_hours(histogram, 0.9),
        }
        for measure, histogram in histograms.items()
    }


def lights(session: Session, area: gazetteer.Place) -> list[dict[str, Any]]:
    query = _filtered(
        select(LightCount.light, func.sum(LightCount.count)).group_by(LightCount.light),
        LightCount,
        districts_of(area.code),
    )
    counts = {light: int(count or 0) for light, count in session.execute(query)}
    return [
        {"key": light.value, "label": label(light), "count": counts.get(light.value, 0)}
        for light in (Light.RED, Light.YELLOW, Light.GREEN)
    ]


def value_given(session: Session, area: gazetteer.Place, period: Period) -> dict[str, Any]:
    query = _filtered(
        select(ValueMonth.source, func.sum(ValueMonth.amount))
        .where(ValueMonth.month >= period.first, ValueMonth.month <= period.last)
        .group_by(ValueMonth.source),
        ValueMonth,
        districts_of(area.code),
    )
    sums = {source: int(amount or 0) for source, amount in session.execute(query)}
    return {
        "cash_yuan": round(sums.get("cash", 0) / 100, 2),
        "in_kind_yuan": sums.get("in_kind", 0),
        "volunteer_hours": round(sums.get("minutes", 0) / 60, 1),
        "confirmed_claims": sums.get("claims", 0),
    }


def top_organisations(
    session: Session, area: gazetteer.Place, period: Period, limit: int = 10
) -> list[dict[str, Any]]:
    query = _filtered(
        select(ValueMonth.organisation_id, ValueMonth.source, func.sum(ValueMonth.amount))
        .where(
            ValueMonth.organisation_id.is_not(None),
            ValueMonth.month >= period.first,
            ValueMonth.month <= period.last,
        )
        .group_by(ValueMonth.organisation_id, ValueMonth.source),
        ValueMonth,
        districts_of(area.code),
    )
    by_org: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for org_id, source, amount in session.execute(query):
        by_org[int(org_id)][source] += int(amount or 0)
    ranked = sorted(
        by_org.items(),
        key=lambda item: (-item[1]["claims"], -item[1]["in_kind"], -item[1]["minutes"], item[0]),
    )[:limit]
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_([org_id for org_id, _s in ranked])
            )
        ).all()
    )
    return [
        {
            "id": org_id,
            "name": names.get(org_id, ""),
            "confirmed_claims": sums["claims"],
            "in_kind_yuan": sums["in_kind"],
            "volunteer_hours": round(sums["minutes"] / 60, 1),
        }
        for org_id, sums in ranked
    ]


def households_recorded(session: Session, area: gazetteer.Place, period: Period) -> int:
    query = _filtered(
        select(func.sum(HouseholdMonth.recorded)).where(
            HouseholdMonth.month >= period.first, HouseholdMonth.month <= period.last
        ),
        HouseholdMonth,
        districts_of(area.code),
    )
    return int(session.scalar(query) or 0)


def summary(
    session: Session, area: gazetteer.Place, period: Period, group_by: str
) -> dict[str, Any]:
    """Everything a dashboard shows, as plain data (the JSON endpoint returns it as is)."""
    refreshed = rollups.last_refresh(session)
    return {
        "area": {"code": area.code, "level": area.level, "name": _key_label("area", area.code)},
        "period": {"key": period.key, "first": period.first, "last": period.last},
        "group_by": group_by,
        "as_of": refreshed.started_at.isoformat() if refreshed else None,
        "households_recorded": households_recorded(session, area, period),
        "needs": needs_by(session, area, period, group_by),
        "durations": durations(session, area, period),
        "lights": lights(session, area),
        "value": value_given(session, area, period),
        "top_organisations": top_organisations(session, area, period),
    }


# --- the lists behind the figures -------------------------------------------------------


@dataclass
class DrillFilters:
    area: gazetteer.Place
    period: Period
    measure: str = "collected"  # collected | published | resolved | light
    month: str = ""
    sub_area: str = ""
    kind: str = ""
    category: str = ""
    group: str = ""
    light: str = ""


def drill_query(filters: DrillFilters) -> Select[Any]:
    """The needs behind one figure of the dashboard, newest first."""
    query = select(Need).join(Household, Household.id == Need.household_id)
    districts = districts_of(filters.sub_area or filters.area.code)
    if districts is not None:
        query = query.where(Need.district_code.in_(districts))
    if filters.month:
        month = parse_period(filters.month)
        start, end = month.start_utc, month.end_utc
    else:
        start, end = filters.period.start_utc, filters.period.end_utc
    if filters.measure == "light":
        query = query.where(Need.light == Light(filters.light or "red"))
    elif filters.measure in ("published", "resolved"):
        action = rollups.PUBLISH_ACTION if filters.measure == "published" else "confirm"
        query = query.where(
            exists().where(
                NeedEvent.need_id == Need.id,
                NeedEvent.action == action,
                NeedEvent.at >= start,
                NeedEvent.at < end,
            )
        )
    else:
        query = query.where(Need.created_at >= start, Need.created_at < end)
    if filters.kind:
        query = query.where(Need.kind == NeedKind(filters.kind))
    if filters.category:
        query = query.where(Need.category == CareCategory(filters.category))
    if filters.group:
        query = query.where(Household.group == PersonGroup(filters.group))
    return query.order_by(Need.id.desc())


def drill_link_args(
    area: gazetteer.Place, period: Period, group_by: str, key: str, measure: str
) -> dict[str, str]:
    """The query string of the list behind one cell of the needs table."""
    args = {"area": area.code, "period": period.key, "measure": measure}
    field = {"month": "month", "area": "sub_area"}.get(group_by, group_by)
    args[field] = key
    return args


# --- what companies and the public see --------------------------------------------------


@dataclass(frozen=True)
class PublicCell:
    fulfilled: int = 0
    households: int = 0
    minutes: int = 0
    cash_fen: int = 0
    goods_yuan: int = 0


def _suppressed(row: PublicCell | None) -> dict[str, Any]:
    if row is None:
        return {"fulfilled": 0, "households": 0, "hours": 0, "cash_yuan": 0, "goods_yuan": 0}
    if row.households < SMALL_CELL:
        return {
            "suppressed": True,
            "fulfilled": None,
            "households": None,
            "hours": None,
            "cash_yuan": None,
            "goods_yuan": None,
        }
    return {
        "fulfilled": row.fulfilled,
        "households": row.households,
        "hours": round(row.minutes / 60, 1),
        "cash_yuan": round(row.cash_fen / 100, 2),
        "goods_yuan": row.goods_yuan,
    }


def _total(parts: list[PublicCell]) -> PublicCell:
    # Distinct households over several months are at least the largest month's count (and
    # possibly fewer than the sum): the largest month decides the suppression.
    return PublicCell(
        fulfilled=sum(p.fulfilled for p in parts),
        households=max((p.households for p in parts), default=0),
        minutes=sum(p.minutes for p in parts),
        cash_fen=sum(p.cash_fen for p in parts),
        goods_yuan=sum(p.goods_yuan for p in parts),
    )


def public_summary(session: Session, period: Period) -> dict[str, Any]:
    """Wishes fulfilled, hours, money and goods by city and month, and fulfilled needs by
    district for the map; every cell under :data:`SMALL_CELL` households suppressed.
    Months are summed per area before suppression, never after."""
    from app.templating import place_name

    rows = session.execute(
        select(
            PublicMonth.level,
            PublicMonth.area_code,
            PublicMonth.month,
            PublicMonth.fulfilled,
            PublicMonth.households,
            PublicMonth.minutes,
            PublicMonth.cash_fen,
            PublicMonth.goods_yuan,
        ).where(PublicMonth.month >= period.first, PublicMonth.month <= period.last)
    )
    cells: dict[str, dict[str, dict[str, PublicCell]]] = defaultdict(lambda: defaultdict(dict))
    for level, code, month, *values in rows:
        cells[level][code][month] = PublicCell(*(int(v or 0) for v in values))
    months = period.months
    province = cells["province"].get(gazetteer.PROVINCE_CODE, {})
    cities = []
    for city in gazetteer.cities():
        per_month = cells["city"].get(city.code, {})
        period_total = _suppressed(_total(list(per_month.values())) if per_month else None)
        period_total.pop("households")  # not a distinct count over several months
        cities.append(
            {
                "code": city.code,
                "name": place_name(city.code),
                "total": period_total,
                "months": [{"month": m, **_suppressed(per_month.get(m))} for m in months],
            }
        )
    districts = []
    for district in gazetteer.districts():
        per_month = cells["district"].get(district.code, {})
        if not per_month:
            continue
        figures = _suppressed(_total(list(per_month.values())))
        figures.pop("households")
        districts.append(
            {
                "code": district.code,
                "name": place_name(district.code),
                "lat": district.lat,
                "lng": district.lng,
                **figures,
            }
        )
    return {
        "period": {"key": period.key, "first": period.first, "last": period.last},
        "small_cell": SMALL_CELL,
        "province": [{"month": m, **_suppressed(province.get(m))} for m in months],
        "cities": cities,
        "districts": districts,
    }


# --- printable reports ----------------------------------------------------------------------


def overdue_needs(session: Session, area: gazetteer.Place, limit: int = 10) -> list[Need]:
    """The needs that have been red longest in an area."""
    query = select(Need).where(Need.light == Light.RED)
    districts = districts_of(area.code)
    if districts is not None:
        query = query.where(Need.district_code.in_(districts))
    return list(
        session.scalars(
            query.order_by(Need.light_changed_at.asc().nulls_last(), Need.id).limit(limit)
        )
    )


def monthly_report(session: Session, area: gazetteer.Place, month: Period) -> dict[str, Any]:
    """The figures of one month for one area, by kind of need, and its longest-red needs."""
    from app.labels import light_reason
    from app.templating import place_name

    data = summary(session, area, month, "kind")
    data["by_category"] = needs_by(session, area, month, "category")
    return {
        "month": month.key,
        "summary": data,
        "as_of": data["as_of"],
        "overdue": [
            {
                "id": need.id,
                "title": need.title,
                "district": place_name(need.district_code),
                "why": light_reason(need.light_reason),
                "since": need.light_changed_at.astimezone(CHINA).strftime("%Y-%m-%d")
                if need.light_changed_at
                else "",
            }
            for need in overdue_needs(session, area)
        ],
    }


def suppress_households(count: int) -> int | str:
    """A household count as a company or the public may see it."""
    return count if count >= SMALL_CELL else f"<{SMALL_CELL}"
