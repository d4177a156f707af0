"""How claims react to other domains' events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import User
from app.claims import services
from app.claims.models import CLAIM, Claim, ClaimStatus
from app.needs.models import Need, NeedEvent
from app.notifications import services as notifications


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
            notifications.notify(session, claim.claimant, "released", need, reason=event.note)
    elif event.action == "unconfirm":
        claim = session.scalar(
            select(Claim).where(Claim.need_id == need.id, Claim.status == ClaimStatus.CONFIRMED)
        )
        if claim is not None:
            CLAIM.apply(
                session,
                claim,
                "unconfirm",
                actor,
                event.note,
                confirmed_at=None,
                confirmed_by_id=None,
            )
