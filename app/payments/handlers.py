"""How payments react to other domains' events."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import events
from app.needs.models import Need, NeedEvent
from app.payments.services import funded_minor, refund_for_cancelled_need


@events.need_transitioned.connect
def refund_when_need_ends(
    sender: object, *, session: Session, need: Need, event: NeedEvent, **_: Any
) -> None:
    """A need cancelled, or expired with partial gifts: everything paid goes back."""
    if event.action in ("cancel", "expire"):
        refund_for_cancelled_need(session, need)


@events.claim_requested.connect
def refuse_claims_once_funded(sender: object, *, session: Session, need: Need) -> object:
    """Money paid for a need means the caseworker buys it: nobody claims it in kind."""
    if funded_minor(session, need) > 0:
        return _l("Donors are funding this need in cash; it cannot be claimed in kind any more.")
    return None
