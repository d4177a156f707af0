"""The end of a need's life: follow-up visits (回访), the public thank-you, closing,
cancelling, and withdrawing a confirmation made in error."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import privacy
from app.accounts.models import User
from app.errors import Conflict, NotAllowed, ValidationFailed
from app.models_base import local_today, utcnow
from app.needs import lifecycle
from app.needs.models import FollowUp, Need, NeedState


def schedule_follow_up(
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
    if not actor.is_caseworker_for(need.district_code):
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
    lifecycle.touch(session, need)


def close_need(session: Session, need: Need, actor: User, note: str = "") -> None:
    """Close a confirmed need once its follow-up visits are recorded."""
    pending = [f for f in follow_ups_of(session, need) if f.done_at is None]
    if pending:
        raise Conflict(_l("Record the follow-up visit before closing this need."))
    lifecycle.transition(session, need, "close", actor, note=note)


def set_thank_you(session: Session, need: Need, actor: User, text: str) -> None:
    """A short thank-you the caseworker approves for the public page."""
    if not actor.is_caseworker_for(need.district_code):
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
    """Cancel a need. What hangs on it reacts to ``need_transitioned``: a live claim ends
    (claims), booked shift places are freed (shifts), cash gifts are refunded (payments)."""
    lifecycle.transition(
        session, need, "cancel", actor, note=reason, claimant_id=None, claimant_org_id=None
    )


def withdraw_confirmation(session: Session, need: Need, actor: User, reason: str) -> None:
    """Undo a confirmation made in error: the need goes back to delivered; the claim goes
    back to delivered and the hours stop counting (their packages react to the event), and
    every point the confirmation gave is reversed by a counter-entry (points reacts)."""
    lifecycle.transition(session, need, "unconfirm", actor, note=reason)
    for visit in follow_ups_of(session, need):
        if visit.done_at is None:
            session.delete(visit)
    session.flush()
