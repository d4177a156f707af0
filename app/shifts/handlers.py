"""How shifts react to other domains' events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app import events
from app.needs.models import Need, NeedEvent
from app.shifts.models import Shift, SignupStatus
from app.shifts.services import booked_signups


@events.need_transitioned.connect
def follow_the_need(
    sender: object, *, session: Session, need: Need, event: NeedEvent, **_: Any
) -> None:
    """A cancelled need frees every booked place; a withdrawn confirmation makes the hours
    stop counting."""
    if event.action == "cancel":
        for signup in booked_signups(session, need):
            signup.status = SignupStatus.CANCELLED
        session.execute(update(Shift).where(Shift.need_id == need.id).values(places_taken=0))
        session.flush()
    elif event.action == "unconfirm":
        for signup in booked_signups(session, need):
            signup.confirmed_at = None
        session.flush()
