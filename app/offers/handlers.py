"""Offers' periodic work, run by the sweep through :data:`app.events.sweep_running`
(the sweep imports nothing of offers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app import events
from app.offers import pool, services
from app.offers.models import Offer, OfferKind, OfferStatus


def sweep_offers(session: Any, now: datetime) -> str:
    """Pause meal offers whose permit lapsed, expire unused codes (freeing their portions),
    open the coming days' meal windows, and return uncollected pool reservations."""
    paused = services.pause_offers_with_lapsed_permits(session)
    expired = services.expire_unused_codes(session, now)
    returned = pool.expire_reservations(session, now)
    opened = 0
    for offer in session.scalars(
        select(Offer).where(Offer.kind == OfferKind.MEAL, Offer.status == OfferStatus.ACTIVE)
    ).all():
        opened += services.open_meal_windows(session, offer)
    return (
        f"offers paused: {paused}, codes expired: {expired}, meal windows opened: {opened}, "
        f"pool reservations returned: {returned}"
    )


@events.sweep_running.connect
def _on_sweep(sender: object, **kw: Any) -> str:
    return sweep_offers(kw["session"], kw["now"])
