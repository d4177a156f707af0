"""The traffic lights follow whatever happens to a need, its claim and its shifts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import events
from app.claims.models import Claim
from app.needs.models import Need
from app.supervision.lights import refresh_light


@events.need_transitioned.connect
@events.need_touched.connect
def relight_need(sender: object, *, session: Session, need: Need, **_: Any) -> None:
    refresh_light(session, need)


@events.claim_transitioned.connect
def relight_claimed_need(sender: object, *, session: Session, claim: Claim, **_: Any) -> None:
    refresh_light(session, claim.need)
