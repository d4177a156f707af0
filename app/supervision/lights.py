"""Traffic lights (穗救易): every rule that colours a need lives here.

green  - moving: claimed and on time, recently published, or confirmed with follow-up on time
yellow - published and unclaimed too long, or no update for a while, or a follow-up overdue
red    - a claim past its due date, a disputed delivery, a claim that lapsed recently,
         or nothing happening past the red limit

Limits are settings per kind of need. Lights are stored on the need so that supervisors
can count and list them per district without recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.claims.models import LIVE_CLAIM_STATUSES, Claim, ClaimStatus
from app.models_base import local_today, utcnow
from app.needs.models import FollowUp, Light, Need, NeedKind, NeedState

_NO_LIGHT = {
    NeedState.DRAFT,
    NeedState.REJECTED,
    NeedState.CLOSED,
    NeedState.CANCELLED,
    NeedState.EXPIRED,
}


@dataclass(frozen=True)
class Facts:
    """What the rules look at besides the need itself."""

    live_claim: Claim | None
    follow_up_overdue: bool


def _per_kind(config: Any, prefix: str, kind: NeedKind) -> int:
    return int(config[f"{prefix}_{kind.name}"])


def compute_light(need: Need, facts: Facts, now: datetime, config: Any) -> tuple[Light, str]:
    """The light and a short reason code (shown translated in the dashboards)."""
    if need.state in _NO_LIGHT:
        return Light.NONE, ""
    idle = now - need.updated_at
    claim = facts.live_claim
    if claim is not None and claim.status is ClaimStatus.DISPUTED:
        return Light.RED, "disputed"
    if claim is not None and claim.status is not ClaimStatus.DELIVERED and claim.due_at < now:
        return Light.RED, "claim_overdue"
    if (
        need.overdue_at is not None
        and need.state is NeedState.PUBLISHED
        and (now - need.overdue_at < timedelta(days=config["RED_AFTER_OVERDUE_DAYS"]))
    ):
        return Light.RED, "claim_lapsed"
    if idle > timedelta(days=_per_kind(config, "RED_IDLE_DAYS", need.kind)):
        return Light.RED, "idle_red"
    if (
        need.state is NeedState.PUBLISHED
        and need.published_at is not None
        and (
            now - need.published_at
            > timedelta(days=_per_kind(config, "YELLOW_UNCLAIMED_DAYS", need.kind))
        )
    ):
        return Light.YELLOW, "unclaimed_long"
    if facts.follow_up_overdue:
        return Light.YELLOW, "follow_up_overdue"
    if idle > timedelta(days=config["YELLOW_IDLE_DAYS"]):
        return Light.YELLOW, "idle"
    return Light.GREEN, "moving"


def facts_for(session: Session, need: Need) -> Facts:
    claim = session.scalar(
        select(Claim).where(Claim.need_id == need.id, Claim.status.in_(LIVE_CLAIM_STATUSES))
    )
    overdue = session.scalar(
        select(FollowUp.id).where(
            FollowUp.need_id == need.id,
            FollowUp.done_at.is_(None),
            FollowUp.due_on < local_today(),
        )
    )
    return Facts(live_claim=claim, follow_up_overdue=overdue is not None)


def refresh_light(session: Session, need: Need, now: datetime | None = None) -> bool:
    """Recompute and store the need's light; True when it turned red just now."""
    now = now or utcnow()
    light, reason = compute_light(need, facts_for(session, need), now, current_app.config)
    turned_red = light is Light.RED and need.light is not Light.RED
    if (light, reason) != (need.light, need.light_reason):
        # Written with a plain UPDATE: colouring a need is not activity on it, so
        # ``updated_at`` (which the idle rules read) must not move.
        session.execute(
            update(Need)
            .where(Need.id == need.id)
            .values(
                light=light,
                light_reason=reason,
                light_changed_at=now,
                updated_at=Need.updated_at,  # keep: the column's onupdate would bump it
            )
            .execution_options(synchronize_session=False)
        )
        session.refresh(need)
    return turned_red
