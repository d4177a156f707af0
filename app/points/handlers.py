"""Points follow confirmed help: awards when help or a donation is confirmed, counter-entries
when a confirmation is withdrawn. The services that confirm know nothing of points."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import events
from app.donations.models import Donation
from app.needs.models import Need, NeedEvent
from app.points import services


@events.help_confirmed.connect
def award_confirmed_help(
    sender: object,
    *,
    session: Session,
    need: Need,
    need_event: NeedEvent,
    was_red: bool,
    **_: Any,
) -> None:
    services.award_for_confirmation(session, need, need_event, had_red=was_red)


@events.donation_received.connect
def award_received_donation(
    sender: object, *, session: Session, donation: Donation, **_: Any
) -> None:
    services.award_for_donation(session, donation)


@events.need_transitioned.connect
def reverse_withdrawn_confirmation(
    sender: object, *, session: Session, need: Need, event: NeedEvent, **_: Any
) -> None:
    if event.action == "unconfirm":
        services.reverse_confirmation(session, need)
