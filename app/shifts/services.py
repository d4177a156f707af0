"""Farm help: the caseworker plans shifts, team leaders (or a caseworker, for the season
plan) book members on them, members check in and out with the shift's code, and the hours
count once the caseworker confirms the work."""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import events, privacy
from app.accounts.models import MemberRole, Membership, Organisation, OrgKind, User
from app.errors import (
    CapacityExceeded,
    Conflict,
    InvalidTransition,
    NotAllowed,
    NotClaimable,
    ValidationFailed,
)
from app.models_base import local_today, readable_code, utcnow
from app.needs import fulfilment, lifecycle
from app.needs.models import Need, NeedKind, NeedState
from app.shifts.models import SIGNUP, Shift, ShiftSignup, SignupStatus


@dataclass
class ShiftData:
    day: date
    start_time: time
    end_time: time
    places: int
    meeting_point: str = ""


def add_shift(session: Session, need: Need, actor: User, data: ShiftData) -> Shift:
    if need.kind is not NeedKind.FARM_HELP:
        raise Conflict(_l("Only farm help has shifts."))
    if not actor.is_caseworker_for(need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can plan shifts."))
    if need.state not in (
        NeedState.DRAFT,
        NeedState.SUBMITTED,
        NeedState.PUBLISHED,
        NeedState.CLAIMED,
        NeedState.REJECTED,
    ):
        raise Conflict(_l("Shifts can no longer be added to this need."))
    errors: dict[str, list[str]] = {}
    if (
        need.window_start
        and need.window_end
        and not (need.window_start <= data.day <= need.window_end)
    ):
        errors["day"] = [
            str(
                _l(
                    "Pick a day between %(start)s and %(end)s.",
                    start=need.window_start.isoformat(),
                    end=need.window_end.isoformat(),
                )
            )
        ]
    if data.end_time <= data.start_time:
        errors["end_time"] = [str(_l("The shift must end after it starts."))]
    planned = (
        session.scalar(
            select(func.coalesce(func.sum(Shift.places), 0)).where(Shift.need_id == need.id)
        )
        or 0
    )
    if data.places < 1:
        errors["places"] = [str(_l("At least 1."))]
    elif need.volunteers_needed and planned + data.places > need.volunteers_needed:
        errors["places"] = [
            str(
                _l(
                    "Only %(n)s more volunteers are needed for this need.",
                    n=need.volunteers_needed - planned,
                )
            )
        ]
    for name, messages in privacy.refusals(
        {"meeting_point": data.meeting_point}, allow=frozenset({privacy.FindingKind.ADDRESS})
    ).items():
        errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    shift = Shift(
        need_id=need.id,
        day=data.day,
        start_time=data.start_time,
        end_time=data.end_time,
        places=data.places,
        meeting_point=data.meeting_point.strip()[:200],
        checkin_code=readable_code(6),
        created_by_id=actor.id,
    )
    session.add(shift)
    session.flush()
    return shift


def shifts_of(session: Session, need: Need) -> list[Shift]:
    return list(
        session.scalars(
            select(Shift).where(Shift.need_id == need.id).order_by(Shift.day, Shift.start_time)
        )
    )


def team_members(session: Session, organisation: Organisation) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == organisation.id)
            .order_by(User.id)
        )
    )


def sign_up(
    session: Session, shift: Shift, actor: User, member_ids: Sequence[int]
) -> list[ShiftSignup]:
    """A team leader books places for members. Places are taken with one conditional
    UPDATE, so concurrent sign-ups can never book more than the shift has."""
    organisation = actor.organisation
    if (
        organisation is None
        or organisation.kind is not OrgKind.TEAM
        or not (actor.is_org_admin(organisation))
    ):
        raise NotAllowed(_l("Only a volunteer team's leader can sign members up."))
    _check_bookable(shift, organisation)
    ids = list(dict.fromkeys(member_ids))
    if not ids:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"member_ids": [str(_l("Choose at least one member."))]},
        )
    members = {u.id for u in team_members(session, organisation)}
    if not set(ids) <= members:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"member_ids": [str(_l("Only members of your team can be signed up."))]},
        )
    free = {u.id for u in free_members(session, organisation, shift.day)}
    if not set(ids) <= free:
        # Nobody is in two places at once: one shift per person per day.
        raise Conflict(_l("Some of these members are already signed up for a shift on that day."))
    signups = _take_places(session, shift, organisation, actor, actor, ids)
    _announce_booking(session, shift, signups, actor, leader=actor)
    return signups


def _announce_booking(
    session: Session, shift: Shift, signups: list[ShiftSignup], actor: User, leader: User
) -> None:
    events.emit(
        events.shift_booked,
        session=session,
        shift=shift,
        signups=signups,
        actor=actor,
        leader=leader,
    )


def book_for_team(
    session: Session, shift: Shift, organisation: Organisation, actor: User, count: int
) -> list[ShiftSignup]:
    """A caseworker books up to ``count`` places on a shift for a verified team (the
    season plan): the team's registered members who are free that day, leader first.
    The same atomic booking as ``sign_up``; fewer are booked when fewer members are free
    or fewer places are left, and none at all raises."""
    need = shift.need
    if not actor.is_caseworker_for(need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can book places for a team."))
    if organisation.kind is not OrgKind.TEAM:
        raise NotAllowed(_l("Only volunteer teams can be booked on shifts."))
    _check_bookable(shift, organisation)
    # One booking per team at a time (PostgreSQL; SQLite has one writer anyway), so two
    # caseworkers booking the same team for one day cannot both pick the same members.
    session.execute(
        select(Organisation.id).where(Organisation.id == organisation.id).with_for_update()
    )
    leader = team_leader(session, organisation)
    if leader is None:
        raise Conflict(_l("This team has no leader to answer for its members."))
    free = free_members(session, organisation, shift.day)
    if not free:
        raise Conflict(_l("No member of this team is free on that day."))
    if count < 1:
        raise ValidationFailed(_l("Book at least one place."))
    while True:
        # Take what is left now; if another booking got in first, look again (each miss
        # means fewer places, so this ends).
        session.refresh(shift)
        if shift.places_left <= 0:
            raise CapacityExceeded(_l("Only %(n)s places are left on this shift.", n=0))
        chosen = [u.id for u in free[: min(count, shift.places_left)]]
        try:
            signups = _take_places(session, shift, organisation, actor, leader, chosen)
        except CapacityExceeded:
            continue
        break
    _announce_booking(session, shift, signups, actor, leader=leader)
    return signups


def team_leader(session: Session, organisation: Organisation) -> User | None:
    """The team's first leader (an admin member), who holds the claim for the team."""
    return session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == organisation.id,
            Membership.role == MemberRole.ADMIN,
            User.is_active_account.is_(True),
        )
        .order_by(User.id)
        .limit(1)
    )


def free_members(session: Session, organisation: Organisation, day: date) -> list[User]:
    """Active members not booked on any shift that day (nobody is in two places at once),
    leaders first, then in the order they joined the site."""
    busy = (
        select(ShiftSignup.user_id)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(Shift.day == day, ShiftSignup.status == SignupStatus.BOOKED)
    )
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == organisation.id,
            User.is_active_account.is_(True),
            User.id.not_in(busy),
        )
        .order_by(User.id)
    ).all()
    return [user for user, role in sorted(rows, key=lambda r: r[1] is not MemberRole.ADMIN)]


def _check_bookable(shift: Shift, organisation: Organisation) -> None:
    if not organisation.can_claim():
        raise NotAllowed(
            _l("Your organisation must be verified by an admin before it can claim needs.")
        )
    if shift.need.state not in (NeedState.PUBLISHED, NeedState.CLAIMED):
        raise NotClaimable(_l("This need is no longer open to sign-ups."))
    if shift.day < local_today():
        raise Conflict(_l("This shift is in the past."))


# The need's history records the leader as the claimant; this note says who acted.
_BOOKED_BY_CASEWORKER = "社工按季节计划预订 / booked by a caseworker (season plan)"


def _take_places(
    session: Session,
    shift: Shift,
    organisation: Organisation,
    actor: User,
    claimant: User,
    ids: list[int],
) -> list[ShiftSignup]:
    """The booking both ways share: places are taken with one conditional UPDATE, so
    concurrent bookings can never take more than the shift has. ``claimant`` (the team's
    leader) holds the need once the first team is on it; ``actor`` did the booking."""
    need = shift.need
    already = set(
        session.scalars(
            select(ShiftSignup.user_id).where(
                ShiftSignup.shift_id == shift.id,
                ShiftSignup.user_id.in_(ids),
                ShiftSignup.status == SignupStatus.BOOKED,
            )
        )
    )
    if already:
        raise Conflict(_l("Some of these members are already signed up for this shift."))
    booked = session.execute(
        update(Shift)
        .where(Shift.id == shift.id, Shift.places_taken + len(ids) <= Shift.places)
        .values(places_taken=Shift.places_taken + len(ids))
        .execution_options(synchronize_session=False)
    )
    if booked.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(shift)
        raise CapacityExceeded(_l("Only %(n)s places are left on this shift.", n=shift.places_left))
    session.refresh(shift)
    signups = []
    for user_id in ids:
        signup = session.scalar(
            select(ShiftSignup).where(
                ShiftSignup.shift_id == shift.id, ShiftSignup.user_id == user_id
            )
        )
        if signup is None:
            signup = ShiftSignup(
                shift_id=shift.id,
                user_id=user_id,
                organisation_id=organisation.id,
                signed_up_by_id=actor.id,
                status=SignupStatus.BOOKED,
            )
            session.add(signup)
        else:
            SIGNUP.apply(
                session,
                signup,
                "rebook",
                actor,
                organisation_id=organisation.id,
                signed_up_by_id=actor.id,
            )
        signups.append(signup)
    session.flush()
    if need.state is NeedState.PUBLISHED:
        # The first team on site takes the need into "claimed"; a concurrent first sign-up
        # may have done it already, which is fine.
        try:
            with session.begin_nested():
                lifecycle.transition(
                    session,
                    need,
                    "claim",
                    claimant,
                    note="" if claimant.id == actor.id else _BOOKED_BY_CASEWORKER,
                    claimant_id=claimant.id,
                    claimant_org_id=organisation.id,
                )
        except InvalidTransition:
            session.refresh(need)
    else:
        lifecycle.touch(session, need)
    return signups


def cancel_signup(session: Session, signup: ShiftSignup, actor: User) -> None:
    organisation = signup.organisation
    if not (actor.id == signup.user_id or actor.is_org_admin(organisation)):
        raise NotAllowed(_l("Only the member or their team leader can cancel a sign-up."))
    if signup.status is not SignupStatus.BOOKED or signup.checked_in_at is not None:
        raise Conflict(_l("This sign-up can no longer be cancelled."))
    SIGNUP.apply(session, signup, "cancel", actor)
    session.execute(
        update(Shift)
        .where(Shift.id == signup.shift_id, Shift.places_taken > 0)
        .values(places_taken=Shift.places_taken - 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    need = signup.shift.need
    if need.state is NeedState.CLAIMED and not booked_signups(session, need):
        # Nobody is coming any more: the need goes back on offer (nothing stays claimed).
        holder = actor if need.is_claimant(actor) else (need.claimant or actor)
        lifecycle.transition(
            session,
            need,
            "release",
            holder,
            note="all sign-ups cancelled",
            claimant_id=None,
            claimant_org_id=None,
        )


def _member_signup(session: Session, shift: Shift, actor: User) -> ShiftSignup:
    signup = session.scalar(
        select(ShiftSignup).where(
            ShiftSignup.shift_id == shift.id,
            ShiftSignup.user_id == actor.id,
            ShiftSignup.status == SignupStatus.BOOKED,
        )
    )
    if signup is None:
        raise NotAllowed(_l("You are not signed up for this shift."))
    return signup


def _check_code(shift: Shift, code: str) -> None:
    # A Chinese keyboard in full-width mode types "ＡＢＣ２３４": fold it to ASCII first,
    # and compare bytes (compare_digest refuses non-ASCII str).
    typed = unicodedata.normalize("NFKC", code).strip().upper()
    if not secrets.compare_digest(typed.encode(), shift.checkin_code.encode()):
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"code": [str(_l("That is not this shift's check-in code."))]},
        )
    if shift.day != local_today():
        raise Conflict(_l("Check-in is open on the day of the shift only."))


def check_in(session: Session, shift: Shift, actor: User, code: str) -> ShiftSignup:
    signup = _member_signup(session, shift, actor)
    _check_code(shift, code)
    if signup.checked_in_at is not None:
        raise Conflict(_l("You have already checked in."))
    signup.checked_in_at = utcnow()
    session.flush()
    lifecycle.touch(session, shift.need)
    return signup


def check_out(
    session: Session, shift: Shift, actor: User, code: str, now: datetime | None = None
) -> ShiftSignup:
    """Hours are what was worked between check-in and check-out, never more than the shift."""
    signup = _member_signup(session, shift, actor)
    _check_code(shift, code)
    if signup.checked_in_at is None:
        raise Conflict(_l("Check in first."))
    if signup.checked_out_at is not None:
        raise Conflict(_l("You have already checked out."))
    now = now or utcnow()
    worked = int((now - signup.checked_in_at).total_seconds() // 60)
    signup.checked_out_at = now
    signup.minutes_worked = max(0, min(worked, shift.length_minutes))
    session.flush()
    return signup


def booked_signups(session: Session, need: Need) -> list[ShiftSignup]:
    return list(
        session.scalars(
            select(ShiftSignup)
            .join(Shift, Shift.id == ShiftSignup.shift_id)
            .where(Shift.need_id == need.id, ShiftSignup.status == SignupStatus.BOOKED)
        )
    )


def farm_work_done(session: Session, need: Need, actor: User, note: str = "") -> None:
    """The caseworker (or the leading team) reports the farm work done."""
    if need.kind is not NeedKind.FARM_HELP:
        raise Conflict(_l("Only farm help is reported done this way."))
    lifecycle.transition(session, need, "deliver", actor, note=note)


def confirm_farm_work(
    session: Session, need: Need, actor: User, follow_up_days: int | None = None
) -> None:
    """Confirming farm work makes the hours of members who checked out count."""
    if need.kind is not NeedKind.FARM_HELP:
        raise Conflict(_l("Only farm help is confirmed this way."))
    was_red = need.is_red_or_overdue
    event = lifecycle.transition(session, need, "confirm", actor)
    now = utcnow()
    for signup in booked_signups(session, need):
        if signup.checked_out_at is not None:
            signup.confirmed_at = now
            session.flush()
            events.emit(events.hours_confirmed, session=session, signup=signup, actor=actor)
    session.flush()
    events.emit(
        events.help_confirmed,
        session=session,
        need=need,
        need_event=event,
        was_red=was_red,
        actor=actor,
    )
    fulfilment.schedule_follow_up(session, need, actor, follow_up_days)
