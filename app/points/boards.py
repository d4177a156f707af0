"""Leaderboards, the company plaque and the impact report: read-only views of the ledger
and of confirmed help. Each board is one aggregate query, whatever its size."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.orm import Session

from app.accounts.models import BoardName, Organisation, OrgKind, OrgStatus, User, nickname
from app.claims.models import Claim, ClaimStatus
from app.donations.models import Donation, DonationStatus
from app.needs.models import Need
from app.places import gazetteer
from app.points.models import EntryKind, PointsEntry
from app.points.services import period_start
from app.shifts.models import Shift, ShiftSignup


class Board(enum.Enum):
    COMPANIES = "companies"
    TEAMS = "teams"
    PEOPLE = "people"


PERIODS = ("month", "year", "all")


@dataclass(frozen=True)
class Standing:
    rank: int
    owner_id: int
    name: str
    points: int


def _area_filter(query: Select, area_code: str | None) -> Select:  # type: ignore[type-arg]
    if not area_code:
        return query
    place = gazetteer.get(area_code)
    if place is None or place.level == "province":
        return query
    codes = [d.code for d in gazetteer.districts() if gazetteer.covers(area_code, d.code)]
    return query.where(PointsEntry.district_code.in_(codes))


def leaderboard(
    session: Session,
    board: Board,
    period: str = "all",
    area_code: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> list[Standing]:
    """Points earned for confirmed help (spending does not lower a rank)."""
    total = func.sum(PointsEntry.amount).label("points")
    if board is Board.PEOPLE:
        owner_id, name = User.id, User.display_name
        shown: Any = User.board_name
        query = (
            select(owner_id, name, total, shown)
            .join(User, User.id == PointsEntry.owner_user_id)
            .where(User.board_name != BoardName.HIDDEN.value)
        )
    else:
        owner_id, name = Organisation.id, Organisation.name
        shown = literal(BoardName.NAME.value)  # organisations appear by name
        kind = OrgKind.COMPANY if board is Board.COMPANIES else OrgKind.TEAM
        query = (
            select(owner_id, name, total, shown)
            .join(Organisation, Organisation.id == PointsEntry.owner_org_id)
            .where(Organisation.kind == kind, Organisation.status == OrgStatus.VERIFIED)
        )
    query = query.where(PointsEntry.kind == EntryKind.EARN)
    start = period_start(period, now)
    if start is not None:
        query = query.where(PointsEntry.created_at >= start)
    query = _area_filter(query, area_code)
    rows = session.execute(
        query.group_by(owner_id, name, shown)
        .having(func.sum(PointsEntry.amount) > 0)
        .order_by(total.desc(), owner_id)
        .limit(limit)
    ).all()
    return [
        Standing(
            rank=i,
            owner_id=row[0],
            name=row[1] if row[3] == BoardName.NAME.value else nickname(row[1]),
            points=int(row[2]),
        )
        for i, row in enumerate(rows, start=1)
    ]


def company_rank(session: Session, organisation: Organisation) -> tuple[int, int]:
    """(all-time points, rank among verified companies); rank 0 when it has none."""
    points = int(
        session.scalar(
            select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
                PointsEntry.owner_org_id == organisation.id, PointsEntry.kind == EntryKind.EARN
            )
        )
        or 0
    )
    if points <= 0:
        return 0, 0
    totals = (
        select(func.sum(PointsEntry.amount).label("points"))
        .join(Organisation, Organisation.id == PointsEntry.owner_org_id)
        .where(
            PointsEntry.kind == EntryKind.EARN,
            Organisation.kind == organisation.kind,
            Organisation.status == OrgStatus.VERIFIED,
        )
        .group_by(PointsEntry.owner_org_id)
        .subquery()
    )
    ahead = session.scalar(select(func.count()).where(totals.c.points > points)) or 0
    return points, ahead + 1


# --- impact report ---------------------------------------------------------------------


@dataclass
class ImpactLine:
    day: datetime
    what: str  # "claim" | "donation" | "hours"
    need_id: int | None
    title: str
    district_code: str
    value_yuan: int
    hours: float


@dataclass
class Impact:
    households: int
    needs: int
    value_yuan: int
    hours: float
    lines: list[ImpactLine]


def impact_report(
    session: Session, organisation: Organisation, start: datetime | None, end: datetime | None
) -> Impact:
    """What an organisation's confirmed help amounted to in a period."""
    lines: list[ImpactLine] = []
    households: set[int] = set()
    claims = (
        select(Claim, Need)
        .join(Need, Need.id == Claim.need_id)
        .where(Claim.organisation_id == organisation.id, Claim.status == ClaimStatus.CONFIRMED)
    )
    donations = (
        select(Donation, Need)
        .outerjoin(Need, Need.id == Donation.need_id)
        .where(
            Donation.organisation_id == organisation.id, Donation.status == DonationStatus.RECEIVED
        )
    )
    signups = (
        select(ShiftSignup, Need)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .join(Need, Need.id == Shift.need_id)
        .where(
            ShiftSignup.organisation_id == organisation.id, ShiftSignup.confirmed_at.is_not(None)
        )
    )
    if start is not None:
        claims = claims.where(Claim.confirmed_at >= start)
        donations = donations.where(Donation.received_at >= start)
        signups = signups.where(ShiftSignup.confirmed_at >= start)
    if end is not None:
        claims = claims.where(Claim.confirmed_at < end)
        donations = donations.where(Donation.received_at < end)
        signups = signups.where(ShiftSignup.confirmed_at < end)
    for claim, need in session.execute(claims):
        households.add(need.household_id)
        value = claim.plan_cost_yuan or need.estimated_value_yuan or need.estimated_cost_yuan or 0
        lines.append(
            ImpactLine(
                claim.confirmed_at or claim.created_at,
                "claim",
                need.id,
                need.title,
                need.district_code,
                value,
                0.0,
            )
        )
    for donation, need in session.execute(donations):
        if need is not None:
            households.add(need.household_id)
        lines.append(
            ImpactLine(
                donation.received_at or donation.created_at,
                "donation",
                donation.need_id,
                donation.item,
                donation.district_code,
                donation.value_yuan,
                0.0,
            )
        )
    for signup, need in session.execute(signups):
        households.add(need.household_id)
        lines.append(
            ImpactLine(
                signup.confirmed_at or signup.created_at,
                "hours",
                need.id,
                need.title,
                need.district_code,
                0,
                signup.hours_worked,
            )
        )
    lines.sort(key=lambda line: line.day)
    return Impact(
        households=len(households),
        needs=len({line.need_id for line in lines if line.need_id}),
        value_yuan=sum(line.value_yuan for line in lines),
        hours=round(sum(line.hours for line in lines), 2),
        lines=lines,
    )
