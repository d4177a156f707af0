"""How claims react to other domains' events."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import events
from app.accounts.models import User
from app.claims import services
from app.needs.models import Need, NeedEvent


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
    """A cancelled need ends its live claim; a withdrawn confirmation un-confirms it."""
    if event.action == "cancel":
        claim = services.live_claim(session, need)
        if claim is not None:
            services.end_claim(session, claim, "release", actor, event.note)
    elif event.action == "unconfirm":
        services.unconfirm_claim(session, need, actor, event.note)
