"""Matching people to work: reads the database into the plain data of the pure engine in
``matching/``, calls it, and turns its answers back into rows the pages can show. The
season plan's bookings go through ``claims.services.book_for_team``, the same atomic
booking a team leader's sign-up uses."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import Membership, Organisation, OrgKind, OrgStatus, Role, User
from app.errors import DomainError, NotAllowed, ValidationFailed
from app.models_base import CHINA
from app.needs.models import Need, NeedKind, NeedState
from app.needs.services import in_area
from app.places import gazetteer
from app.shifts import services as shift_services
from app.shifts.models import Shift, ShiftSignup, SignupStatus
from matching import plan as planner
from matching import recommend
from matching.geo import Point

# What each kind of organisation may take (the same table as ``Need.can_claim``).
NEED_KINDS: dict[OrgKind, frozenset[str]] = {
    OrgKind.COMPANY: frozenset({NeedKind.MICRO_WISH.value, NeedKind.REPAIR.value}),
    OrgKind.TEAM: frozenset({NeedKind.FARM_HELP.value, NeedKind.REPAIR.value}),
}
MAX_RADIUS_KM = 200
MAX_TEAM_SIZE = 500
# Guangdong with a margin, as the household form checks it.
LAT_RANGE, LNG_RANGE = (20.0, 25.7), (109.5, 117.5)
# Farm help keeps taking sign-ups once the first team is on it.
_SHIFT_OPEN_STATES = (NeedState.PUBLISHED, NeedState.CLAIMED)


# --- the organisation's matching profile ----------------------------------------------


def base_of(organisation: Organisation) -> Point | None:
    if organisation.base_lat is None or organisation.base_lng is None:
        return None
    return Point(organisation.base_lat, organisation.base_lng)


def weekdays_of(organisation: Organisation) -> frozenset[int]:
    return frozenset(int(c) for c in organisation.available_weekdays if c in "1234567")


def verified_skills(organisation: Organisation) -> frozenset[str]:
    return frozenset(s.skill for s in organisation.skills if s.verified_at is not None)


@dataclass
class MatchingProfile:
    """What a leader or company admin sets on the matching form."""

    district_code: str = ""
    base_lat: float | None = None
    base_lng: float | None = None
    radius_km: int | None = 30
    team_size: int | None = None
    weekdays: list[int] = field(default_factory=lambda: list(range(1, 8)))


def update_matching_profile(
    session: Session, organisation: Organisation, actor: User, data: MatchingProfile
) -> None:
    """Set where the organisation works from, how far it goes, how many it brings and on
    which weekdays. Without coordinates the base is the chosen district's centre."""
    if not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only the organisation's admin or leader can change this."))
    errors: dict[str, list[str]] = {}
    lat, lng = data.base_lat, data.base_lng
    moved = bool(data.district_code) and data.district_code != organisation.district_code
    if moved and (lat, lng) == (organisation.base_lat, organisation.base_lng):
        # The form comes back with the saved point: a new district means a new base, unless
        # the person also typed new coordinates.
        lat = lng = None
    if (lat is None) != (lng is None):
        errors["base_lat"] = [str(_l("Give both latitude and longitude, or neither."))]
    elif lat is not None and lng is not None:
        if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LNG_RANGE[0] <= lng <= LNG_RANGE[1]):
            errors["base_lat"] = [str(_l("This point is outside Guangdong."))]
    else:
        district = gazetteer.get(data.district_code) if data.district_code else None
        if district is None or not gazetteer.is_district(data.district_code):
            errors["district_code"] = [
                str(_l("Choose a district, or give the latitude and longitude."))
            ]
        else:
            lat, lng = district.lat, district.lng
    if data.radius_km is None or not 1 <= data.radius_km <= MAX_RADIUS_KM:
        errors["radius_km"] = [str(_l("Between 1 and %(max)s km.", max=MAX_RADIUS_KM))]
    if data.team_size is not None and not 1 <= data.team_size <= MAX_TEAM_SIZE:
        errors["team_size"] = [str(_l("Between 1 and %(max)s people.", max=MAX_TEAM_SIZE))]
    days = sorted({d for d in data.weekdays if 1 <= d <= 7})
    if not days or len(days) != len(set(data.weekdays)):
        errors["weekdays"] = [str(_l("Choose at least one weekday."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    if moved and gazetteer.is_district(data.district_code):
        organisation.district_code = data.district_code
    organisation.base_lat = lat
    organisation.base_lng = lng
    organisation.radius_km = data.radius_km or 0
    organisation.team_size = data.team_size
    organisation.available_weekdays = "".join(str(d) for d in days)
    session.flush()


# --- loading plain data for the engine --------------------------------------------------


def _member_counts(session: Session, org_ids: Iterable[int]) -> dict[int, int]:
    ids = list(org_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Membership.organisation_id, func.count())
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id.in_(ids), User.is_active_account.is_(True))
        .group_by(Membership.organisation_id)
    ).all()
    return {int(org_id): int(n) for org_id, n in rows}


def helper_of(organisation: Organisation, members: int | None = None) -> recommend.Helper | None:
    """The engine's view of a verified organisation; None without a base location."""
    base = base_of(organisation)
    if base is None:
        return None
    size = organisation.team_size
    if members is not None:
        size = min(size or members, members)
    return recommend.Helper(
        id=organisation.id,
        name=organisation.name,
        kind=organisation.kind.value,
        base=base,
        radius_km=float(organisation.radius_km),
        need_kinds=NEED_KINDS[organisation.kind],
        skills=verified_skills(organisation),
        weekdays=weekdays_of(organisation),
        size=size,
    )


def _box(query: Select, lat_col: object, lng_col: object, point: Point, km: float) -> Select:
    """A latitude/longitude box around the point, a little larger than ``km``; the
    engine measures the exact distance afterwards."""
    dlat = km / 110.5 * 1.02 + 0.01
    dlng = km / (111.3 * max(math.cos(math.radians(abs(point.lat) + dlat)), 0.01)) * 1.02 + 0.01
    return query.where(
        lat_col.between(point.lat - dlat, point.lat + dlat),  # type: ignore[attr-defined]
        lng_col.between(point.lng - dlng, point.lng + dlng),  # type: ignore[attr-defined]
    )


def _published_on(need: Need) -> date:
    when = need.published_at or need.created_at
    return when.astimezone(CHINA).date()


def _open_places(session: Session, need_ids: list[int], today: date) -> dict[int, dict[date, int]]:
    """Open places by need and day, on shifts from today on."""
    if not need_ids:
        return {}
    rows = session.execute(
        select(Shift.need_id, Shift.day, func.sum(Shift.places - Shift.places_taken))
        .where(
            Shift.need_id.in_(need_ids),
            Shift.day >= today,
            Shift.places_taken < Shift.places,
        )
        .group_by(Shift.need_id, Shift.day)
    ).all()
    places: dict[int, dict[date, int]] = {}
    for need_id, day, left in rows:
        places.setdefault(need_id, {})[day] = int(left)
    return places


def open_need_of(need: Need, open_places: dict[date, int] | None = None) -> recommend.OpenNeed:
    return recommend.OpenNeed(
        id=need.id,
        kind=need.kind.value,
        title=need.title,
        location=Point(need.approx_lat, need.approx_lng),
        urgency=need.urgency.rank,
        published_on=_published_on(need),
        skills=frozenset(s.value for s in need.skills),
        open_places=open_places or {},
        priority=need.household.need_score,
    )


def _open_needs(
    session: Session, kinds: Iterable[str], point: Point, radius_km: float, today: date
) -> list[Need]:
    wanted = [NeedKind(k) for k in kinds]
    query = select(Need).where(
        Need.kind.in_(wanted),
        (Need.state == NeedState.PUBLISHED)
        | ((Need.kind == NeedKind.FARM_HELP) & (Need.state == NeedState.CLAIMED)),
    )
    query = _box(query, Need.approx_lat, Need.approx_lng, point, radius_km)
    # The household's score breaks ties; loaded with the needs, not one by one.
    return list(session.scalars(query.options(selectinload(Need.household)).order_by(Need.id)))


# --- recommendations --------------------------------------------------------------------


@dataclass(frozen=True)
class Recommended:
    match: recommend.Match
    need: Need


@dataclass(frozen=True)
class NeedRecommendations:
    items: list[Recommended]
    excluded: dict[str, int]
    has_base: bool


def recommend_for(
    session: Session, organisation: Organisation, today: date, limit: int = 20
) -> NeedRecommendations:
    """The best open needs for a team or company, with the reasons."""
    members = _member_counts(session, [organisation.id]).get(organisation.id, 0)
    helper = helper_of(organisation, members if organisation.kind is OrgKind.TEAM else None)
    if helper is None:
        return NeedRecommendations([], {}, has_base=False)
    needs = _open_needs(session, helper.need_kinds, helper.base, helper.radius_km, today)
    places = _open_places(session, [n.id for n in needs if n.kind is NeedKind.FARM_HELP], today)
    by_id = {n.id: n for n in needs}
    result = recommend.recommend_needs(
        helper, [open_need_of(n, places.get(n.id)) for n in needs], today, limit=limit
    )
    return NeedRecommendations(
        [Recommended(m, by_id[m.need_id]) for m in result.matches],
        {reason.value: n for reason, n in result.excluded.items()},
        has_base=True,
    )


@dataclass(frozen=True)
class HelperMatch:
    match: recommend.Match
    organisation: Organisation


@dataclass(frozen=True)
class HelperMatches:
    items: list[HelperMatch]
    excluded: dict[str, int]
    without_base: int  # verified organisations that have not said where they work from


def can_see_matches(need: Need, user: User) -> bool:
    return user.is_caseworker_for(need.district_code)


def matches_for_need(
    session: Session, need: Need, actor: User, today: date, limit: int = 20
) -> HelperMatches:
    """The best verified teams and companies near a caseworker's need, with the reasons."""
    if not can_see_matches(need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can see matches for this need."))
    kinds = [kind for kind, takes in NEED_KINDS.items() if need.kind.value in takes]
    point = Point(need.approx_lat, need.approx_lng)
    query = select(Organisation).where(
        Organisation.status == OrgStatus.VERIFIED, Organisation.kind.in_(kinds)
    )
    without_base = (
        session.scalar(
            select(func.count()).select_from(
                query.where(Organisation.base_lat.is_(None)).subquery()
            )
        )
        or 0
    )
    orgs = list(
        session.scalars(
            _box(
                query, Organisation.base_lat, Organisation.base_lng, point, MAX_RADIUS_KM
            ).order_by(Organisation.id)
        )
    )
    members = _member_counts(session, [o.id for o in orgs if o.kind is OrgKind.TEAM])
    helpers = [
        h
        for o in orgs
        if (h := helper_of(o, members.get(o.id, 0) if o.kind is OrgKind.TEAM else None)) is not None
    ]
    places = _open_places(session, [need.id], today) if need.kind is NeedKind.FARM_HELP else {}
    result = recommend.recommend_helpers(
        open_need_of(need, places.get(need.id)), helpers, today, limit=limit
    )
    by_id = {o.id: o for o in orgs}
    return HelperMatches(
        [HelperMatch(m, by_id[m.helper_id]) for m in result.matches],
        {reason.value: n for reason, n in result.excluded.items()},
        without_base=without_base,
    )


# --- season planning --------------------------------------------------------------------


def _require_caseworker(actor: User) -> str:
    if not actor.has_role(Role.CASEWORKER) or actor.area_code is None:
        raise NotAllowed(_l("Only caseworkers plan the season."))
    return actor.area_code


def _open_shifts(session: Session, area_code: str, today: date) -> list[Shift]:
    query = (
        select(Shift)
        .join(Need, Need.id == Shift.need_id)
        .where(
            Need.kind == NeedKind.FARM_HELP,
            Need.state.in_(_SHIFT_OPEN_STATES),
            Shift.day >= today,
            Shift.places_taken < Shift.places,
        )
    )
    query = in_area(query, Need.district_code, area_code).options(selectinload(Shift.need))
    return list(session.scalars(query.order_by(Shift.day, Shift.id)))


def _busy_members(
    session: Session, org_ids: Sequence[int], days: Iterable[date]
) -> dict[int, dict[date, int]]:
    """Members of each team already booked on some shift, by day."""
    day_list = sorted(set(days))
    if not org_ids or not day_list:
        return {}
    rows = session.execute(
        select(
            Membership.organisation_id, Shift.day, func.count(func.distinct(ShiftSignup.user_id))
        )
        .join(ShiftSignup, ShiftSignup.user_id == Membership.user_id)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(
            Membership.organisation_id.in_(list(org_ids)),
            Shift.day.in_(day_list),
            ShiftSignup.status == SignupStatus.BOOKED,
        )
        .group_by(Membership.organisation_id, Shift.day)
    ).all()
    busy: dict[int, dict[date, int]] = {}
    for org_id, day, n in rows:
        busy.setdefault(org_id, {})[day] = int(n)
    return busy


def _plan_teams(
    session: Session, teams: list[Organisation], days: Iterable[date]
) -> list[planner.PlanTeam]:
    members = _member_counts(session, [t.id for t in teams])
    busy = _busy_members(session, [t.id for t in teams], days)
    plan_teams = []
    for team in teams:
        base = base_of(team)
        count = members.get(team.id, 0)
        if base is None or count == 0:
            continue
        plan_teams.append(
            planner.PlanTeam(
                id=team.id,
                base=base,
                size=min(team.team_size or count, count),
                weekdays=weekdays_of(team),
                radius_km=float(team.radius_km),
                busy=busy.get(team.id, {}),
            )
        )
    return plan_teams


def _plan_shift(shift: Shift) -> planner.PlanShift:
    need = shift.need
    return planner.PlanShift(
        id=shift.id,
        day=shift.day,
        location=Point(need.approx_lat, need.approx_lng),
        places=shift.places_left,
        need_id=need.id,
    )


def _verified_teams(session: Session, ids: Iterable[int] | None = None) -> list[Organisation]:
    query = select(Organisation).where(
        Organisation.kind == OrgKind.TEAM,
        Organisation.status == OrgStatus.VERIFIED,
        Organisation.base_lat.is_not(None),
        Organisation.base_lng.is_not(None),
    )
    if ids is not None:
        query = query.where(Organisation.id.in_(list(ids)))
    return list(session.scalars(query.order_by(Organisation.id)))


@dataclass(frozen=True)
class PlanView:
    plan: planner.SeasonPlan
    shifts: dict[int, Shift]
    teams: dict[int, Organisation]
    unfilled: list[tuple[Shift, int]]  # shifts the plan leaves with open places, how many

    def rows(self) -> list[tuple[planner.PlannedBooking, Shift, Organisation]]:
        return [(b, self.shifts[b.shift_id], self.teams[b.team_id]) for b in self.plan.bookings]


def season_plan(session: Session, actor: User, today: date) -> PlanView:
    """The proposed plan for the open farm-help shifts in the caseworker's area."""
    area = _require_caseworker(actor)
    shifts = _open_shifts(session, area, today)
    teams = _verified_teams(session) if shifts else []
    plan = planner.plan_season(
        _plan_teams(session, teams, (s.day for s in shifts)),
        [_plan_shift(s) for s in shifts],
    )
    filled: dict[int, int] = {}
    for booking in plan.bookings:
        filled[booking.shift_id] = filled.get(booking.shift_id, 0) + booking.people
    unfilled = [
        (s, s.places_left - filled.get(s.id, 0))
        for s in shifts
        if s.places_left > filled.get(s.id, 0)
    ]
    return PlanView(plan, {s.id: s for s in shifts}, {t.id: t for t in teams}, unfilled)


@dataclass(frozen=True)
class PlanItem:
    """One line of a plan the caseworker accepts: send ``people`` of a team to a shift."""

    team_id: int
    shift_id: int
    people: int


@dataclass(frozen=True)
class LineOutcome:
    item: PlanItem
    label: str  # day, need and team, for the report
    people: int = 0  # booked
    problem: str = ""  # why (part of) the line could not be booked


@dataclass
class AcceptReport:
    booked: list[LineOutcome] = field(default_factory=list)
    failed: list[LineOutcome] = field(default_factory=list)

    @property
    def people_booked(self) -> int:
        return sum(line.people for line in self.booked)

    @property
    def short(self) -> list[LineOutcome]:
        """Lines booked with fewer people than planned."""
        return [line for line in self.booked if line.people < line.item.people]


def accept_plan(
    session: Session, actor: User, items: Sequence[PlanItem], today: date
) -> AcceptReport:
    """Book the plan the caseworker saw, line by line, checking each line again now:
    the team is still verified, free and willing that day and within reach, the shift
    still open. A line that cannot be booked (or only in part) is reported, not fatal."""
    area = _require_caseworker(actor)
    shifts = {
        s.id: s
        for s in session.scalars(
            select(Shift)
            .where(Shift.id.in_({i.shift_id for i in items}))
            .options(selectinload(Shift.need))
        )
    }
    for shift in shifts.values():
        if not gazetteer.covers(area, shift.need.district_code):
            raise NotAllowed(_l("You can only book shifts in your own area."))
    teams = {
        t.id: t
        for t in session.scalars(
            select(Organisation).where(Organisation.id.in_({i.team_id for i in items}))
        )
    }
    report = AcceptReport()
    for item in items:
        line_shift, team = shifts.get(item.shift_id), teams.get(item.team_id)
        if line_shift is None or team is None or item.people < 1:
            report.failed.append(
                LineOutcome(item, "", problem=str(_l("This shift or team no longer exists.")))
            )
            continue
        label = f"{line_shift.day.isoformat()} · {line_shift.need.title} · {team.name}"
        try:
            with session.begin_nested():
                booked = _book_line(session, actor, line_shift, team, item.people, today)
        except DomainError as exc:
            report.failed.append(LineOutcome(item, label, problem=str(exc.message)))
            continue
        report.booked.append(LineOutcome(item, label, people=booked))
    return report


def _book_line(
    session: Session, actor: User, shift: Shift, team: Organisation, people: int, today: date
) -> int:
    if shift.day < today:
        raise ValidationFailed(_l("This shift is in the past."))
    session.refresh(shift)
    if shift.places_left <= 0:
        raise ValidationFailed(_l("This shift is full now."))
    plan_teams = _plan_teams(session, [team], [shift.day]) if team.is_verified else []
    if not plan_teams:
        raise ValidationFailed(_l("This team is no longer verified or has no base or members."))
    plan_team = plan_teams[0]
    if not plan_team.available_on(shift.day):
        raise ValidationFailed(_l("This team is not available on that day."))
    if plan_team.free_on(shift.day) <= 0:
        raise ValidationFailed(_l("No member of this team is free on that day."))
    if planner.reach_km(plan_team, _plan_shift(shift)) is None:
        raise ValidationFailed(_l("This shift is beyond the team's travel radius."))
    signups = shift_services.book_for_team(
        session, shift, team, actor, min(people, plan_team.free_on(shift.day))
    )
    return len(signups)
