"""How shifts react to other domains' events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import User
from app.needs.models import Need, NeedEvent
from app.shifts.models import SIGNUP, Shift
from app.shifts.services import booked_signups


@events.need_transitioned.connect
def follow_the_need(
    sender: object,
    *,
    session: Session,
    need: Need,
    event: NeedEvent,
    actor: User | None,
    **_: Any,
) -> None:
    """A cancelled need frees every booked place; a withdrawn confirmation makes the hours
    stop counting."""
    if event.action == "cancel":
        for signup in booked_signups(session, need):
            SIGNUP.apply(session, signup, "cancel", actor, event.note)
        session.execute(update(Shift).where(Shift.need_id == need.id).values(places_taken=0))
        session.flush()
    elif event.action == "unconfirm":
        for signup in booked_signups(session, need):
            signup.confirmed_at = None
        session.flush()
