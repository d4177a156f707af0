"""Rebuild the report rollups from the domain tables.

Each rollup is rebuilt with ``INSERT ... SELECT ... GROUP BY`` inside the database, so a
province with a million needs is summarised without a row passing through Python. A
refresh for some districts deletes and rebuilds only their rows (an import does that for
the districts it touched); a full refresh (the worker, ``flask reports refresh``) also
rebuilds the public transparency figures.

Months are Beijing months (UTC+8 all year, no daylight saving).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from app.claims.models import Claim, ClaimStatus
from app.donations.models import Donation, DonationStatus
from app.needs.models import Household, Light, Need, NeedEvent
from app.payments.models import COUNTING, CashDonation
from app.places import gazetteer
from app.reports.models import (
    DurationMonth,
    HouseholdMonth,
    LightCount,
    NeedMonth,
    PublicMonth,
    RollupRefresh,
    ValueMonth,
)
from app.shifts.models import Shift, ShiftSignup

# Upper bounds (hours) of the waiting-time histogram; the last one catches the rest.
BUCKETS: tuple[int, ...] = (
    1,
    3,
    6,
    12,
    24,
    48,
    72,
    120,
    168,
    336,
    720,
    1440,
    2160,
    4320,
    8760,
    87600,
)
CLAIM_ACTIONS = ("claim", "fund")
PUBLISH_ACTION = "approve"
RESOLVE_ACTION = "confirm"


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def month_of(session: Session, column: Any) -> ColumnElement[str]:
    """The Beijing month (``YYYY-MM``) of a UTC timestamp column."""
    if _postgres(session):
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def hours_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if _postgres(session):
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def _bucket(hours: ColumnElement[Any]) -> ColumnElement[int]:
    return case(
        *((hours <= bound, literal(bound)) for bound in BUCKETS[:-1]),
        else_=literal(BUCKETS[-1]),
    )


def _in_districts(column: Any, districts: Collection[str] | None) -> Any:
    return column.in_(sorted(districts)) if districts is not None else literal(True)


def _insert(session: Session, table: Any, columns: Sequence[str], query: Any) -> None:
    session.execute(insert(table).from_select(list(columns), query))


def refresh(session: Session, districts: Collection[str] | None = None) -> RollupRefresh:
    """Rebuild the rollups of ``districts`` (all when None; then also the public figures).
    Flushes; the caller commits."""
    started = time.monotonic()
    for model in (NeedMonth, HouseholdMonth, DurationMonth, ValueMonth, LightCount):
        session.execute(delete(model).where(_in_districts(model.district_code, districts)))
    _refresh_need_months(session, districts)
    _refresh_household_months(session, districts)
    _refresh_durations(session, districts)
    _refresh_values(session, districts)
    _refresh_lights(session, districts)
    if districts is None:
        refresh_public(session)
    record = RollupRefresh(
        scope=",".join(sorted(districts)) if districts is not None else "",
        seconds=round(time.monotonic() - started, 3),
    )
    session.add(record)
    session.flush()
    return record


DIMENSIONS: dict[str, Any] = {
    "all": literal(""),
    "kind": Need.kind,
    "category": Need.category,
    "group": Household.group,
}


def _refresh_need_months(session: Session, districts: Collection[str] | None) -> None:
    """One pass per dimension: needs recorded (collected), approved (published) and
    confirmed (resolved) per month, district and value of the dimension."""
    for dimension, column in DIMENSIONS.items():
        collected = (
            select(
                month_of(session, Need.created_at).label("month"),
                Need.district_code.label("district_code"),
                column.label("key"),
                literal(1).label("c"),
                literal(0).label("p"),
                literal(0).label("r"),
            )
            .join(Household, Household.id == Need.household_id)
            .where(_in_districts(Need.district_code, districts))
        )
        events = [
            select(
                month_of(session, NeedEvent.at).label("month"),
                Need.district_code.label("district_code"),
                column.label("key"),
                literal(0).label("c"),
                literal(1 if action == PUBLISH_ACTION else 0).label("p"),
                literal(1 if action == RESOLVE_ACTION else 0).label("r"),
            )
            .join(Need, Need.id == NeedEvent.need_id)
            .join(Household, Household.id == Need.household_id)
            .where(NeedEvent.action == action, _in_districts(Need.district_code, districts))
            for action in (PUBLISH_ACTION, RESOLVE_ACTION)
        ]
        both = union_all(collected, *events).subquery()
        query = select(
            both.c.month,
            both.c.district_code,
            literal(dimension),
            both.c.key,
            func.sum(both.c.c),
            func.sum(both.c.p),
            func.sum(both.c.r),
        ).group_by(both.c.month, both.c.district_code, both.c.key)
        _insert(
            session,
            NeedMonth.__table__,
            ("month", "district_code", "dimension", "key", "collected", "published", "resolved"),
            query,
        )


def _refresh_household_months(session: Session, districts: Collection[str] | None) -> None:
    month = month_of(session, Household.created_at)
    query = (
        select(month, Household.district_code, Household.group, func.count())
        .where(_in_districts(Household.district_code, districts))
        .group_by(month, Household.district_code, Household.group)
    )
    _insert(
        session,
        HouseholdMonth.__table__,
        ("month", "district_code", "person_group", "recorded"),
        query,
    )


def _refresh_durations(session: Session, districts: Collection[str] | None) -> None:
    for measure, actions in (("claim", CLAIM_ACTIONS), ("confirm", (RESOLVE_ACTION,))):
        bucket = _bucket(hours_between(session, Need.published_at, NeedEvent.at))
        month = month_of(session, NeedEvent.at)
        query = (
            select(month, Need.district_code, literal(measure), bucket, func.count())
            .join(Need, Need.id == NeedEvent.need_id)
            .where(
                NeedEvent.action.in_(actions),
                Need.published_at.is_not(None),
                _in_districts(Need.district_code, districts),
            )
            .group_by(month, Need.district_code, bucket)
        )
        _insert(
            session,
            DurationMonth.__table__,
            ("month", "district_code", "measure", "bucket_hours", "count"),
            query,
        )


def _refresh_values(session: Session, districts: Collection[str] | None) -> None:
    columns = ("month", "district_code", "source", "organisation_id", "amount")
    cash_month = month_of(session, CashDonation.paid_at)
    cash = (
        select(
            cash_month,
            Need.district_code,
            literal("cash"),
            null(),
            func.sum(
                CashDonation.amount_minor
                - CashDonation.refunded_minor
                - CashDonation.refund_due_minor
            ),
        )
        .join(Need, Need.id == CashDonation.need_id)
        .where(
            CashDonation.status.in_(COUNTING),
            CashDonation.paid_at.is_not(None),
            _in_districts(Need.district_code, districts),
        )
        .group_by(cash_month, Need.district_code)
    )
    kind_month = month_of(session, Donation.received_at)
    in_kind = (
        select(
            kind_month,
            Donation.district_code,
            literal("in_kind"),
            Donation.organisation_id,
            func.sum(Donation.value_yuan),
        )
        .where(
            Donation.status == DonationStatus.RECEIVED,
            Donation.received_at.is_not(None),
            _in_districts(Donation.district_code, districts),
        )
        .group_by(kind_month, Donation.district_code, Donation.organisation_id)
    )
    hours_month = month_of(session, ShiftSignup.confirmed_at)
    minutes = (
        select(
            hours_month,
            Need.district_code,
            literal("minutes"),
            ShiftSignup.organisation_id,
            func.sum(func.coalesce(ShiftSignup.minutes_worked, 0)),
        )
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .join(Need, Need.id == Shift.need_id)
        .where(ShiftSignup.confirmed_at.is_not(None), _in_districts(Need.district_code, districts))
        .group_by(hours_month, Need.district_code, ShiftSignup.organisation_id)
    )
    claim_month = month_of(session, Claim.confirmed_at)
    claims = (
        select(
            claim_month,
            Need.district_code,
            literal("claims"),
            Claim.organisation_id,
            func.count(),
        )
        .join(Need, Need.id == Claim.need_id)
        .where(
            Claim.status == ClaimStatus.CONFIRMED,
            Claim.confirmed_at.is_not(None),
            _in_districts(Need.district_code, districts),
        )
        .group_by(claim_month, Need.district_code, Claim.organisation_id)
    )
    for query in (cash, in_kind, minutes, claims):
        _insert(session, ValueMonth.__table__, columns, query)


def _refresh_lights(session: Session, districts: Collection[str] | None) -> None:
    query = (
        select(Need.district_code, Need.light, func.count())
        .where(Need.light != Light.NONE, _in_districts(Need.district_code, districts))
        .group_by(Need.district_code, Need.light)
    )
    _insert(session, LightCount.__table__, ("district_code", "light", "count"), query)


def _city_code(column: Any) -> Any:
    # Adcodes nest: 440106 (Tianhe) lies in 440100 (Guangzhou); Dongguan (441900) and
    # Zhongshan (442000) have no districts and stay themselves.
    return func.substr(column, 1, 4) + literal("00")


def refresh_public(session: Session) -> None:
    """Rebuild the public figures per month at district, city and province level, with
    distinct households counted at each level (never summed from a finer one)."""
    session.execute(delete(PublicMonth))
    month = month_of(session, NeedEvent.at)
    rows: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"fulfilled": 0, "households": 0, "minutes": 0, "cash_fen": 0, "goods_yuan": 0}
    )
    levels: tuple[tuple[str, Any], ...] = (
        ("district", Need.district_code),
        ("city", _city_code(Need.district_code)),
        ("province", literal(gazetteer.PROVINCE_CODE)),
    )
    for level, area in levels:
        query = (
            select(
                month,
                area,
                func.count(func.distinct(Need.id)),
                func.count(func.distinct(Need.household_id)),
            )
            .join(Need, Need.id == NeedEvent.need_id)
            .where(NeedEvent.action == RESOLVE_ACTION)
            .group_by(month, area)
        )
        for month_value, code, fulfilled, households in session.execute(query):
            row = rows[(level, str(code), month_value)]
            row["fulfilled"], row["households"] = int(fulfilled), int(households)
    field_of = {"cash": "cash_fen", "in_kind": "goods_yuan", "minutes": "minutes"}
    values = (
        select(
            ValueMonth.month,
            ValueMonth.district_code,
            ValueMonth.source,
            func.sum(ValueMonth.amount),
        )
        .where(ValueMonth.source.in_(field_of))
        .group_by(ValueMonth.month, ValueMonth.district_code, ValueMonth.source)
    )
    for month_value, district, source, amount in session.execute(values):
        city = gazetteer.city_of(district).code if gazetteer.get(district) else district
        for level, code in (
            ("district", district),
            ("city", city),
            ("province", gazetteer.PROVINCE_CODE),
        ):
            rows[(level, code, month_value)][field_of[source]] += int(amount or 0)
    if rows:
        session.execute(
            insert(PublicMonth),
            [
                {"level": level, "area_code": code, "month": month_value, **figures}
                for (level, code, month_value), figures in rows.items()
            ],
        )
    session.flush()


def last_refresh(session: Session) -> RollupRefresh | None:
    return session.scalar(select(RollupRefresh).order_by(RollupRefresh.id.desc()).limit(1))
