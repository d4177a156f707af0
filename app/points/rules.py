"""Every rule that turns confirmed help into points, in one place.

Rules read plain facts and return the entries to write; ``app.points.services`` writes
them with a dedupe key, so a rule may be re-run on the same event without awarding twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.needs.models import Urgency


@dataclass(frozen=True)
class Award:
    rule: str
    amount: int
    owner_user_id: int | None
    owner_org_id: int | None
    sub_key: str  # distinguishes several awards of one rule for one event
    reason: str

    @property
    def owner_key(self) -> str:
        return f"u{self.owner_user_id}" if self.owner_user_id else f"o{self.owner_org_id}"


def value_points(value_yuan: int, config: Mapping[str, Any]) -> int:
    return (max(0, value_yuan) // 10) * int(config["POINTS_PER_10_YUAN"])


def hour_points(minutes: int, config: Mapping[str, Any]) -> int:
    return (max(0, minutes) * int(config["POINTS_PER_HOUR"])) // 60


def bonuses(
    *,
    was_red: bool,
    urgency: Urgency,
    user_id: int | None,
    org_id: int | None,
    config: Mapping[str, Any],
    sub_key: str,
) -> list[Award]:
    awards = []
    if was_red and config["POINTS_BONUS_RED"]:
        awards.append(
            Award(
                "red_bonus",
                int(config["POINTS_BONUS_RED"]),
                user_id,
                org_id,
                sub_key,
                "bonus: helped a need that had turned red",
            )
        )
    if urgency in (Urgency.HIGH, Urgency.CRITICAL) and config["POINTS_BONUS_URGENT"]:
        awards.append(
            Award(
                "urgent_bonus",
                int(config["POINTS_BONUS_URGENT"]),
                user_id,
                org_id,
                sub_key,
                "bonus: urgent need",
            )
        )
    return awards
