"""Claims and fulfilment: the closed loop need -> claim -> delivery -> confirmation -> follow-up.

Every state change of the need goes through ``lifecycle.transition`` (a compare-and-set);
these functions add the claim's own bookkeeping, notifications and the traffic light.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app import privacy
from app.accounts.models import MemberRole, Membership, Organisation, OrgKind, Role, User
from app.claims.models import (
    LIVE_CLAIM_STATUSES,
    Claim,
    ClaimStatus,
    DeliveryMethod,
    FollowUp,
    Shift,
    ShiftSignup,
    SignupStatus,
)
from app.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.labels import label
from app.models_base import local_today, utcnow
from app.needs import lifecycle
from app.needs.models import Need, NeedKind, NeedState
from app.notifications import services as notifications
from app.points import services as points
from app.supervision.lights import refresh_light

_RNG = random.SystemRandom()
# Codes people read aloud or type: no 0/O, 1/I/L.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class NotClaimable(Conflict):
    """The need cannot be claimed now (taken, not published, or the wrong kind)."""


class CapacityExceeded(Conflict):
    """A shift has fewer places left than asked for."""


def _code(length: int) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def _caseworker_of(need: Need, user: User) -> bool:
    return (
        user.is_authenticated
        and user.has_role(Role.CASEWORKER)
        and user.works_in(need.district_code)
    )


def _touch(session: Session, need: Need) -> None:
    """Activity on a need without a state change (a sign-up, an acceptance) still counts
    for the traffic light's idle rules."""
    session.execute(
        update(Need)
        .where(Need.id == need.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(need)
    refresh_light(session, need)


def live_claim(session: Session, need: Need) -> Claim | None:
    return session.scalar(
        select(Claim).where(Claim.need_id == need.id, Claim.status.in_(LIVE_CLAIM_STATUSES))
    )


def claims_for_need(session: Session, need: Need) -> list[Claim]:
    """Every claim the need has had, newest first (the caseworker's history)."""
    return list(
        session.scalars(select(Claim).where(Claim.need_id == need.id).order_by(Claim.id.desc()))
    )


def claims_of(session: Session, user: User) -> list[Claim]:
    """The user's claims and, for organisation admins, their organisation's."""
    query = select(Claim).order_by(Claim.created_at.desc())
    org = user.organisation
    if org is not None and user.is_org_admin(org):
        query = query.where((Claim.claimant_id == user.id) | (Claim.organisation_id == org.id))
    else:
        query = query.where(Claim.claimant_id == user.id)
    return list(session.scalars(query.limit(200)))


def can_see_address(session: Session, need: Need, user: User) -> bool:
    """The exact address: the caseworkers of the area, and the claimer of a live in-person
    claim once the caseworker accepted it. Nobody else, ever."""
    if not user.is_authenticated:
        return False
    if need.can_view_private(user):
        return True
    claim = live_claim(session, need)
    return (
        claim is not None
        and claim.claimant_id == user.id
        and claim.method is DeliveryMethod.IN_PERSON
        and claim.is_accepted
    )


# --- claiming --------------------------------------------------------------------------


def _claim_days(need: Need) -> int:
    return int(current_app.config[f"CLAIM_DAYS_{need.kind.name}"])


def _draw_inspection(session: Session) -> bool:
    """Draw repairs for spot inspection: at random with the configured share, and always
    when the share inspected so far has fallen below it (so it never drops under 30%)."""
    share = float(current_app.config["INSPECTION_SHARE"])
    total, inspected = session.execute(
        select(func.count(Claim.id), func.count(Claim.id).filter(Claim.inspection_required))
        .join(Need, Need.id == Claim.need_id)
        .where(Need.kind == NeedKind.REPAIR)
    ).one()
    if total and inspected / total < share:
        return True
    return _RNG.random() < share


def claim_need(
    session: Session,
    need: Need,
    actor: User,
    method: DeliveryMethod = DeliveryMethod.HANDOVER,
    plan: str = "",
    plan_cost_yuan: int | None = None,
) -> Claim:
    """Claim a micro-wish or a repair. Exactly one claim wins however many race for it."""
    if need.kind is NeedKind.FARM_HELP:
        raise NotClaimable(_l("Farm help is not claimed: sign your team up for a shift."))
    if method is DeliveryMethod.CASH:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"method": [str(_l("Give money with the cash form instead."))]},
        )
    if need.state is not NeedState.PUBLISHED:
        raise NotClaimable(_l("This need is no longer open to claims."))
    from app.payments.services import funded_minor

    if funded_minor(session, need) > 0:
        raise NotClaimable(
            _l("Donors are funding this need in cash; it cannot be claimed in kind any more.")
        )
    if not need.can_claim(actor):
        raise NotAllowed(_not_allowed_reason(need, actor))
    organisation = actor.organisation if actor.has_role(Role.COMPANY, Role.TEAM) else None
    errors: dict[str, list[str]] = {}
    if need.kind is NeedKind.REPAIR:
        method = DeliveryMethod.IN_PERSON  # repairs happen at the home
        assert organisation is not None
        if not organisation.has_skills([s.value for s in need.skills]):
            raise NotAllowed(
                _l(
                    "This repair needs skills your organisation has not had verified: %(skills)s.",
                    skills=", ".join(label(s) for s in need.skills),
                )
            )
        if len(plan.strip()) < 10:
            errors["plan"] = [str(_l("Describe the work plan in at least 10 characters."))]
        if plan_cost_yuan is None or plan_cost_yuan < 0:
            errors["plan_cost_yuan"] = [str(_l("Give the cost of the work in yuan."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)

    now = utcnow()
    try:
        with session.begin_nested():
            lifecycle.transition(
                session,
                need,
                "claim",
                actor,
                claimant_id=actor.id,
                claimant_org_id=organisation.id if organisation else None,
            )
            claim = Claim(
                need_id=need.id,
                claimant_id=actor.id,
                organisation_id=organisation.id if organisation else None,
                method=method,
                status=ClaimStatus.PENDING
                if method is DeliveryMethod.IN_PERSON
                else ClaimStatus.ACTIVE,
                handover_code=_code(8),
                due_at=now + timedelta(days=_claim_days(need)),
                plan=plan.strip(),
                plan_cost_yuan=plan_cost_yuan,
                inspection_required=need.kind is NeedKind.REPAIR and _draw_inspection(session),
            )
            session.add(claim)
            session.flush()
    except InvalidTransition as exc:
        raise NotClaimable(_l("Someone else claimed this need a moment ago.")) from exc
    except IntegrityError as exc:
        # The partial unique index caught a second live claim: the loser gets a clean 409.
        raise NotClaimable(_l("Someone else claimed this need a moment ago.")) from exc
    refresh_light(session, need)
    notifications.notify(session, need.created_by, "claimed", need)
    return claim


def open_cash_claim(session: Session, need: Need, last_funder: User) -> Claim:
    """A need fully funded in cash counts as claimed by its funders: the system takes it
    off offer and the caseworker buys and delivers (the claim names the last funder)."""
    lifecycle.transition(
        session,
        need,
        "fund",
        None,
        note="fully funded in cash",
        claimant_id=last_funder.id,
        claimant_org_id=None,
    )
    claim = Claim(
        need_id=need.id,
        claimant_id=last_funder.id,
        method=DeliveryMethod.CASH,
        status=ClaimStatus.ACTIVE,
        handover_code=_code(8),
        due_at=utcnow() + timedelta(days=_claim_days(need)),
        accepted_at=utcnow(),
    )
    session.add(claim)
    session.flush()
    refresh_light(session, need)
    return claim


def _not_allowed_reason(need: Need, actor: User) -> object:
    if actor.has_role(Role.DONOR) and need.kind is not NeedKind.MICRO_WISH:
        return _l("Donors claim micro-wishes; repairs are taken by verified companies and teams.")
    organisation = actor.organisation
    if actor.has_role(Role.COMPANY, Role.TEAM) and (
        organisation is None or not organisation.can_claim()
    ):
        return _l("Your organisation must be verified by an admin before it can claim needs.")
    return _l("Your account cannot claim needs.")


def is_own_claim(claim: Claim, actor: User) -> bool:
    if claim.claimant_id == actor.id:
        return True
    org = actor.organisation
    return org is not None and claim.organisation_id == org.id and actor.is_org_admin(org)


def _require_live(claim: Claim, *statuses: ClaimStatus) -> None:
    if claim.status not in statuses:
        raise Conflict(
            _l(
                "This claim is %(status)s; that cannot be done now.",
                status=claim_status_label(claim.status),
            )
        )


def accept_claim(session: Session, claim: Claim, actor: User) -> None:
    """The caseworker accepts an in-person claim; only now may the claimer see the address."""
    if not _caseworker_of(claim.need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can accept a claim."))
    _require_live(claim, ClaimStatus.PENDING)
    claim.status = ClaimStatus.ACTIVE
    claim.accepted_at = utcnow()
    claim.accepted_by_id = actor.id
    session.flush()
    _touch(session, claim.need)
    notifications.notify(session, claim.claimant, "claim_accepted", claim.need)


def _end_claim(session: Session, claim: Claim, status: ClaimStatus, reason: str) -> None:
    claim.status = status
    claim.ended_at = utcnow()
    claim.end_reason = reason[:500]
    session.flush()


def withdraw_claim(session: Session, claim: Claim, actor: User, reason: str) -> None:
    """The claimer gives the need back; it is open again and the history says why."""
    if not is_own_claim(claim, actor):
        raise NotAllowed(_l("Only the claimer can withdraw a claim."))
    _refuse_cash(claim)
    _require_live(claim, ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
    lifecycle.transition(
        session,
        claim.need,
        "release",
        _as_claimant(claim, actor),
        note=reason,
        claimant_id=None,
        claimant_org_id=None,
    )
    _end_claim(session, claim, ClaimStatus.WITHDRAWN, reason)
    notifications.notify(session, claim.need.created_by, "withdrawn", claim.need)


def _as_claimant(claim: Claim, actor: User) -> User:
    """An organisation admin acting on a colleague's claim acts as its claimant."""
    return claim.claimant if actor.id != claim.claimant_id else actor


def _refuse_cash(claim: Claim) -> None:
    """Money was paid for this need: it cannot go back on offer with the money kept. The
    caseworker buys and delivers, or cancels the need, which refunds the donors."""
    if claim.method is DeliveryMethod.CASH:
        raise Conflict(
            _l(
                "This need was paid for in cash: deliver it, or cancel the need to "
                "refund the donors."
            )
        )


def release_claim(session: Session, claim: Claim, actor: User, reason: str) -> None:
    """The caseworker takes a claim back (no show, wrong item...), with a reason."""
    if not _caseworker_of(claim.need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can release a claim."))
    _refuse_cash(claim)
    _require_live(claim, ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
    lifecycle.transition(
        session, claim.need, "release", actor, note=reason, claimant_id=None, claimant_org_id=None
    )
    _end_claim(session, claim, ClaimStatus.RELEASED, reason)
    notifications.notify(session, claim.claimant, "released", claim.need, reason=reason)


def mark_delivered(
    session: Session,
    claim: Claim,
    actor: User,
    note: str,
    photos: Sequence[FileStorage] = (),
) -> None:
    """The claimer reports delivery, with photos as proof."""
    from app.uploads import services as uploads

    cash = claim.method is DeliveryMethod.CASH  # the caseworker bought and delivered it
    allowed = _caseworker_of(claim.need, actor) if cash else is_own_claim(claim, actor)
    if not allowed:
        raise NotAllowed(_l("Only the claimer can mark a claim delivered."))
    if claim.status is ClaimStatus.PENDING:
        raise Conflict(_l("The caseworker has not accepted this claim yet."))
    _require_live(claim, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
    if len(note) > 1000:
        raise ValidationFailed(
            _l("Please correct the marked fields."), {"note": [str(_l("At most 1000 characters."))]}
        )
    for photo in photos:
        if photo and photo.filename:
            uploads.store_image(
                session,
                photo,
                owner_kind="claim",
                owner_id=claim.id,
                district_code=claim.need.district_code,
                uploaded_by=actor,
            )
    # The timeline keeps the first 500 characters; the claim keeps the whole note.
    lifecycle.transition(
        session,
        claim.need,
        "deliver",
        actor if cash else _as_claimant(claim, actor),
        note=note.strip()[:500],
    )
    claim.status = ClaimStatus.DELIVERED
    claim.delivered_at = utcnow()
    claim.delivery_note = note.strip()
    session.flush()
    refresh_light(session, claim.need)
    notifications.notify(session, claim.need.created_by, "delivered", claim.need)


def confirm_delivery(
    session: Session, claim: Claim, actor: User, follow_up_days: int | None = None
) -> None:
    """The caseworker checked with the household: the help arrived."""
    if not _caseworker_of(claim.need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can confirm."))
    _require_live(claim, ClaimStatus.DELIVERED)
    if claim.inspection_required and not claim.inspection_passed:
        raise Conflict(
            _l(
                "This repair was drawn for a spot inspection; a supervisor must "
                "pass it before it can be confirmed."
            )
        )
    had_red = points.was_red(claim.need)
    event = lifecycle.transition(session, claim.need, "confirm", actor)
    claim.status = ClaimStatus.CONFIRMED
    claim.confirmed_at = utcnow()
    claim.confirmed_by_id = actor.id
    session.flush()
    points.award_for_confirmation(session, claim.need, event, had_red=had_red)
    _schedule_follow_up(session, claim.need, actor, follow_up_days)
    notifications.notify(session, claim.claimant, "confirmed", claim.need)


def dispute_delivery(session: Session, claim: Claim, actor: User, reason: str) -> None:
    """The household did not get what was reported: back to the claimer, light red."""
    if not _caseworker_of(claim.need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can dispute a delivery."))
    _require_live(claim, ClaimStatus.DELIVERED)
    lifecycle.transition(session, claim.need, "dispute", actor, note=reason)
    claim.status = ClaimStatus.DISPUTED
    claim.dispute_note = reason.strip()[:500]
    # A few more days to put it right, never less than were left.
    claim.due_at = max(claim.due_at, utcnow() + timedelta(days=3))
    session.flush()
    refresh_light(session, claim.need)
    notifications.notify(session, claim.claimant, "disputed", claim.need, reason=reason)


def record_inspection(session: Session, claim: Claim, actor: User, passed: bool, note: str) -> None:
    """A supervisor's spot inspection of a repair, during or after the works."""
    need = claim.need
    if not (actor.has_role(Role.VERIFIER) and actor.works_in(need.district_code)):
        raise NotAllowed(_l("Only a supervisor of this area can record an inspection."))
    if not claim.inspection_required:
        raise Conflict(_l("This repair was not drawn for inspection."))
    _require_live(claim, ClaimStatus.ACTIVE, ClaimStatus.DELIVERED, ClaimStatus.DISPUTED)
    if not passed and not note.strip():
        raise ValidationFailed(
            _l("Please give a reason."), {"note": [str(_l("A reason is required."))]}
        )
    claim.inspected_at = utcnow()
    claim.inspected_by_id = actor.id
    claim.inspection_passed = passed
    claim.inspection_note = note.strip()[:500]
    session.flush()
    _touch(session, need)


def inspections_due(session: Session, actor: User) -> list[Claim]:
    claims = session.scalars(
        select(Claim)
        .where(
            Claim.inspection_required,
            Claim.inspection_passed.is_not(True),
            Claim.status.in_(LIVE_CLAIM_STATUSES),
        )
        .order_by(Claim.created_at)
    )
    return [c for c in claims if actor.works_in(c.need.district_code)]


# --- follow-up, thanks, close ----------------------------------------------------------


def _schedule_follow_up(
    session: Session, need: Need, actor: User, days: int | None
) -> FollowUp | None:
    if days is None:
        days = int(current_app.config["FOLLOW_UP_DAYS"])
    if days <= 0:
        return None
    follow_up = FollowUp(
        need_id=need.id, due_on=local_today() + timedelta(days=days), created_by_id=actor.id
    )
    session.add(follow_up)
    session.flush()
    return follow_up


def follow_ups_of(session: Session, need: Need) -> list[FollowUp]:
    return list(
        session.scalars(select(FollowUp).where(FollowUp.need_id == need.id).order_by(FollowUp.id))
    )


def record_follow_up(session: Session, follow_up: FollowUp, actor: User, outcome: str) -> None:
    need = session.get(Need, follow_up.need_id)
    assert need is not None
    if not _caseworker_of(need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can record a follow-up visit."))
    if follow_up.done_at is not None:
        raise Conflict(_l("This follow-up visit is already recorded."))
    if len(outcome.strip()) < 2:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"outcome": [str(_l("Describe what the visit found."))]},
        )
    follow_up.done_at = utcnow()
    follow_up.done_by_id = actor.id
    follow_up.outcome = outcome.strip()
    session.flush()
    _touch(session, need)


def close_need(session: Session, need: Need, actor: User, note: str = "") -> None:
    """Close a confirmed need once its follow-up visits are recorded."""
    pending = [f for f in follow_ups_of(session, need) if f.done_at is None]
    if pending:
        raise Conflict(_l("Record the follow-up visit before closing this need."))
    lifecycle.transition(session, need, "close", actor, note=note)


def set_thank_you(session: Session, need: Need, actor: User, text: str) -> None:
    """A short thank-you the caseworker approves for the public page."""
    if not _caseworker_of(need, actor):
        raise NotAllowed(_l("Only a caseworker of this area can publish a thank-you."))
    if need.state not in (NeedState.CONFIRMED, NeedState.CLOSED):
        raise Conflict(_l("A thank-you can be shown once the help is confirmed."))
    text = text.strip()
    if len(text) > 500:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"thank_you": [str(_l("At most 500 characters."))]},
        )
    privacy.check_public_text({"thank_you": text}, need.household)
    need.thank_you = text
    session.flush()


def cancel_need(session: Session, need: Need, actor: User, reason: str) -> None:
    """Cancel a need; a live claim ends with it and booked shift places are freed."""
    lifecycle.transition(
        session, need, "cancel", actor, note=reason, claimant_id=None, claimant_org_id=None
    )
    claim = live_claim(session, need)
    if claim is not None:
        _end_claim(session, claim, ClaimStatus.RELEASED, reason)
        notifications.notify(session, claim.claimant, "released", need, reason=reason)
    for signup in _booked_signups(session, need):
        signup.status = SignupStatus.CANCELLED
    session.execute(update(Shift).where(Shift.need_id == need.id).values(places_taken=0))
    session.flush()
    from app.payments.services import refund_for_cancelled_need

    refund_for_cancelled_need(session, need)


# --- farm help: shifts -----------------------------------------------------------------


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
    if not _caseworker_of(need, actor):
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
        checkin_code=_code(6),
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
    notifications.notify(session, shift.need.created_by, "signup", shift.need)
    return signups


def book_for_team(
    session: Session, shift: Shift, organisation: Organisation, actor: User, count: int
) -> list[ShiftSignup]:
    """A caseworker books up to ``count`` places on a shift for a verified team (the
    season plan): the team's registered members who are free that day, leader first.
    The same atomic booking as ``sign_up``; fewer are booked when fewer members are free
    or fewer places are left, and none at all raises."""
    need = shift.need
    if not _caseworker_of(need, actor):
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
    notifications.notify(session, leader, "signup", need)
    if need.created_by_id != actor.id:
        notifications.notify(session, need.created_by, "signup", need)
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
            signup = ShiftSignup(shift_id=shift.id, user_id=user_id)
            session.add(signup)
        signup.organisation_id = organisation.id
        signup.signed_up_by_id = actor.id
        signup.status = SignupStatus.BOOKED
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
        _touch(session, need)
    return signups


def cancel_signup(session: Session, signup: ShiftSignup, actor: User) -> None:
    organisation = signup.organisation
    if not (actor.id == signup.user_id or actor.is_org_admin(organisation)):
        raise NotAllowed(_l("Only the member or their team leader can cancel a sign-up."))
    if signup.status is not SignupStatus.BOOKED or signup.checked_in_at is not None:
        raise Conflict(_l("This sign-up can no longer be cancelled."))
    signup.status = SignupStatus.CANCELLED
    session.execute(
        update(Shift)
        .where(Shift.id == signup.shift_id, Shift.places_taken > 0)
        .values(places_taken=Shift.places_taken - 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    need = signup.shift.need
    if need.state is NeedState.CLAIMED and not _booked_signups(session, need):
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
    _touch(session, shift.need)
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


def _booked_signups(session: Session, need: Need) -> list[ShiftSignup]:
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
    had_red = points.was_red(need)
    event = lifecycle.transition(session, need, "confirm", actor)
    now = utcnow()
    for signup in _booked_signups(session, need):
        if signup.checked_out_at is not None:
            signup.confirmed_at = now
    session.flush()
    points.award_for_confirmation(session, need, event, had_red=had_red)
    _schedule_follow_up(session, need, actor, follow_up_days)
    leader = need.claimant
    if leader is not None:
        notifications.notify(session, leader, "confirmed", need)


def withdraw_confirmation(session: Session, need: Need, actor: User, reason: str) -> None:
    """Undo a confirmation made in error: the need goes back to delivered, hours stop
    counting, and every point the confirmation gave is reversed by a counter-entry."""
    lifecycle.transition(session, need, "unconfirm", actor, note=reason)
    claim = session.scalar(
        select(Claim).where(Claim.need_id == need.id, Claim.status == ClaimStatus.CONFIRMED)
    )
    if claim is not None:
        claim.status = ClaimStatus.DELIVERED
        claim.confirmed_at = None
        claim.confirmed_by_id = None
    for signup in _booked_signups(session, need):
        signup.confirmed_at = None
    for visit in follow_ups_of(session, need):
        if visit.done_at is None:
            session.delete(visit)
    session.flush()
    points.reverse_confirmation(session, need)


def claim_status_label(status: ClaimStatus) -> str:
    from app.labels import label

    return label(status)
