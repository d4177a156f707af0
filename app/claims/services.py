"""The claim lifecycle: claim -> (accept) -> deliver -> confirm, or dispute, withdraw,
release. Farm help is not claimed (see ``app.shifts``); follow-ups, thank-yous, closing
and cancelling belong to the need (``app.needs.fulfilment``).

Every state change of the need goes through ``lifecycle.transition`` (a compare-and-set);
these functions add the claim's own bookkeeping.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app import events
from app.accounts.models import Role, User
from app.claims.models import CLAIM, LIVE_CLAIM_STATUSES, Claim, ClaimStatus, DeliveryMethod
from app.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotClaimable,
    ValidationFailed,
)
from app.labels import label
from app.models_base import readable_code, utcnow
from app.needs import fulfilment, lifecycle
from app.needs.models import Need, NeedKind, NeedState
from app.uploads import services as uploads

_RNG = random.SystemRandom()


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


def claim_refusal(session: Session, need: Need, actor: User) -> DomainError | None:
    """Why ``actor`` cannot claim ``need`` with the claim form now, or None: the one "can
    claim" rule. ``Need.can_claim`` says who may take what; this adds the moment (farm help
    goes through shifts, a need funded in cash is no longer taken in kind). The service
    raises it, the need page shows the claim form only when it is None, the API answers
    with it."""
    if need.kind is NeedKind.FARM_HELP:
        return NotClaimable(_l("Farm help is not claimed: sign your team up for a shift."))
    if need.state is not NeedState.PUBLISHED:
        return NotClaimable(_l("This need is no longer open to claims."))
    for _receiver, reason in events.claim_requested.send(None, session=session, need=need):
        if reason:
            return NotClaimable(reason)
    if not need.can_claim(actor):
        return NotAllowed(_not_allowed_reason(need, actor))
    return None


def claim_need(
    session: Session,
    need: Need,
    actor: User,
    method: DeliveryMethod = DeliveryMethod.HANDOVER,
    plan: str = "",
    plan_cost_yuan: int | None = None,
) -> Claim:
    """Claim a micro-wish or a repair. Exactly one claim wins however many race for it."""
    refusal = claim_refusal(session, need, actor)
    if method is DeliveryMethod.CASH and need.kind is not NeedKind.FARM_HELP:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"method": [str(_l("Give money with the cash form instead."))]},
        )
    if refusal is not None:
        raise refusal
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
                handover_code=readable_code(8),
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
    _announce(session, claim, "claim", actor)
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
        handover_code=readable_code(8),
        due_at=utcnow() + timedelta(days=_claim_days(need)),
        accepted_at=utcnow(),
    )
    session.add(claim)
    session.flush()
    _announce(session, claim, "fund", None)
    return claim


def _announce(
    session: Session, claim: Claim, action: str, actor: User | None, reason: str = ""
) -> None:
    """Tell the other domains (lights, notifications) what happened to the claim."""
    events.emit(
        events.claim_transitioned,
        session=session,
        claim=claim,
        action=action,
        actor=actor,
        reason=reason,
    )


def _move(
    session: Session,
    claim: Claim,
    action: str,
    actor: User | None,
    reason: str = "",
    **changes: object,
) -> None:
    """Move the claim through its machine (:data:`CLAIM`) and announce it."""
    CLAIM.apply(session, claim, action, actor, note=reason, **changes)
    _announce(session, claim, action, actor, reason)


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
    return claim.is_held_by(actor)


def require_live(claim: Claim, *statuses: ClaimStatus) -> None:
    if claim.status not in statuses:
        raise Conflict(
            _l(
                "This claim is %(status)s; that cannot be done now.",
                status=claim_status_label(claim.status),
            )
        )


def accept_claim(session: Session, claim: Claim, actor: User) -> None:
    """The caseworker accepts an in-person claim; only now may the claimer see the address."""
    if not actor.is_caseworker_for(claim.need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can accept a claim."))
    require_live(claim, ClaimStatus.PENDING)
    _move(session, claim, "accept", actor, accepted_at=utcnow(), accepted_by_id=actor.id)
    lifecycle.touch(session, claim.need)


def end_claim(session: Session, claim: Claim, action: str, actor: User | None, reason: str) -> None:
    """End a live claim by ``action`` (withdraw, release, lapse), keeping the reason."""
    reason = reason.strip()[:500]
    _move(session, claim, action, actor, reason, ended_at=utcnow(), end_reason=reason)


def withdraw_claim(session: Session, claim: Claim, actor: User, reason: str) -> None:
    """The claimer gives the need back; it is open again and the history says why."""
    if not is_own_claim(claim, actor):
        raise NotAllowed(_l("Only the claimer can withdraw a claim."))
    _refuse_cash(claim)
    require_live(claim, ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
    lifecycle.transition(
        session,
        claim.need,
        "release",
        _as_claimant(claim, actor),
        note=reason,
        claimant_id=None,
        claimant_org_id=None,
    )
    end_claim(session, claim, "withdraw", actor, reason)


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
    if not actor.is_caseworker_for(claim.need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can release a claim."))
    _refuse_cash(claim)
    require_live(claim, ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
    lifecycle.transition(
        session, claim.need, "release", actor, note=reason, claimant_id=None, claimant_org_id=None
    )
    end_claim(session, claim, "release", actor, reason)


def mark_delivered(
    session: Session,
    claim: Claim,
    actor: User,
    note: str,
    photos: Sequence[FileStorage] = (),
) -> None:
    """The claimer reports delivery, with photos as proof."""
    cash = claim.method is DeliveryMethod.CASH  # the caseworker bought and delivered it
    if cash:
        allowed = actor.is_caseworker_for(claim.need.district_code)
    else:
        allowed = is_own_claim(claim, actor)
    if not allowed:
        raise NotAllowed(_l("Only the claimer can mark a claim delivered."))
    if claim.status is ClaimStatus.PENDING:
        raise Conflict(_l("The caseworker has not accepted this claim yet."))
    require_live(claim, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
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
    _move(
        session,
        claim,
        "deliver",
        actor,
        note.strip()[:500],
        delivered_at=utcnow(),
        delivery_note=note.strip(),
    )


def confirm_delivery(
    session: Session, claim: Claim, actor: User, follow_up_days: int | None = None
) -> None:
    """The caseworker checked with the household: the help arrived."""
    if not actor.is_caseworker_for(claim.need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can confirm."))
    require_live(claim, ClaimStatus.DELIVERED)
    if claim.inspection_required and not claim.inspection_passed:
        raise Conflict(
            _l(
                "This repair was drawn for a spot inspection; a supervisor must "
                "pass it before it can be confirmed."
            )
        )
    was_red = claim.need.is_red_or_overdue
    event = lifecycle.transition(session, claim.need, "confirm", actor)
    _move(session, claim, "confirm", actor, confirmed_at=utcnow(), confirmed_by_id=actor.id)
    events.emit(
        events.help_confirmed,
        session=session,
        need=claim.need,
        need_event=event,
        was_red=was_red,
        actor=actor,
    )
    fulfilment.schedule_follow_up(session, claim.need, actor, follow_up_days)


def dispute_delivery(session: Session, claim: Claim, actor: User, reason: str) -> None:
    """The household did not get what was reported: back to the claimer, light red."""
    if not actor.is_caseworker_for(claim.need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can dispute a delivery."))
    require_live(claim, ClaimStatus.DELIVERED)
    lifecycle.transition(session, claim.need, "dispute", actor, note=reason)
    _move(
        session,
        claim,
        "dispute",
        actor,
        reason.strip()[:500],
        dispute_note=reason.strip()[:500],
        # A few more days to put it right, never less than were left.
        due_at=max(claim.due_at, utcnow() + timedelta(days=3)),
    )


# --- follow-up, thanks, close ----------------------------------------------------------


# --- farm help: shifts -----------------------------------------------------------------


def claim_status_label(status: ClaimStatus) -> str:
    from app.labels import label

    return label(status)


def lapse_claim(session: Session, claim: Claim, reason: str, now: datetime) -> None:
    """The sweep takes back a claim not delivered by its due date."""
    reason = reason.strip()[:500]
    _move(session, claim, "lapse", None, reason, ended_at=now, end_reason=reason)


def unconfirm_claim(session: Session, need: Need, actor: User | None, reason: str) -> None:
    """A confirmation withdrawn in error: the confirmed claim is delivered again."""
    claim = session.scalar(
        select(Claim).where(Claim.need_id == need.id, Claim.status == ClaimStatus.CONFIRMED)
    )
    if claim is not None:
        _move(session, claim, "unconfirm", actor, reason, confirmed_at=None, confirmed_by_id=None)
