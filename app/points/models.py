"""The points ledger, rewards and redemptions.

The ledger is append-only: a mistake is corrected by a counter-entry, never by editing or
deleting a row, and a balance is always the sum of the owner's entries.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, Role, User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.statemachine import Move, StateMachine

OWNER_CHECK = "(owner_user_id IS NULL) <> (owner_org_id IS NULL)"


class EntryKind(enum.Enum):
    EARN = "earn"  # awarded for confirmed help, or the reversal of such an award
    SPEND = "spend"  # a redemption in the shop, or its refund
    EXPIRE = "expire"  # points that lapsed


class PointsEntry(Base):
    __tablename__ = "points_entries"
    __table_args__ = (
        CheckConstraint(OWNER_CHECK, name="points_one_owner"),
        CheckConstraint("amount <> 0", name="points_nonzero"),
        Index("ix_points_org_time", "owner_org_id", "created_at"),
        Index("ix_points_user_time", "owner_user_id", "created_at"),
        Index("ix_points_board", "kind", "created_at", "district_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    amount: Mapped[int]
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind, "points_entry_kind"))
    rule: Mapped[str] = mapped_column(String(32))  # which rule produced it
    reason: Mapped[str] = mapped_column(String(200))  # human-readable, no personal data
    # The event it came from: ("need_event", id), ("donation", id), ("redemption", id), ...
    source_kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int]
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))
    district_code: Mapped[str | None] = mapped_column(String(6))
    # One entry per (rule, source event, owner): replaying an event awards nothing twice.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    # A counter-entry names the entry it cancels; each entry is cancelled at most once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("points_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner_user: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])
    owner_org: Mapped[Organisation | None] = relationship(foreign_keys=[owner_org_id])


class Reward(Base):
    """Something in the points shop (积分超市): rice, oil, vegetables..."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("price_points > 0", name="reward_price_positive"),
        CheckConstraint("stock >= 0", name="reward_never_oversold"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    price_points: Mapped[int]
    stock: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def name(self, locale: str | None) -> str:
        return self.name_en if (locale or "").startswith("en") and self.name_en else self.name_zh


class RedemptionStatus(enum.Enum):
    ACTIVE = "active"  # points spent, reward to be collected
    COLLECTED = "collected"
    CANCELLED = "cancelled"  # points and stock given back


class Redemption(Base):
    __tablename__ = "redemptions"
    __table_args__ = (CheckConstraint(OWNER_CHECK, name="redemption_one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    redeemed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int]
    code: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[RedemptionStatus] = mapped_column(
        enum_column(RedemptionStatus, "redemption_status"), default=RedemptionStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reward: Mapped[Reward] = relationship()


def _admin(redemption: Redemption, actor: User | None) -> bool:
    return actor is not None and actor.has_role(Role.ADMIN)


def _redeemer_or_admin(redemption: Redemption, actor: User | None) -> bool:
    """An admin, or whoever holds the points spent: the person, or their organisation's
    admin (company and team admins act for their organisation)."""
    if actor is None:
        return False
    if actor.has_role(Role.ADMIN):
        return True
    org = actor.organisation
    if org is not None and actor.is_org_admin(org):
        return redemption.owner_org_id == org.id
    return redemption.owner_user_id == actor.id


REDEMPTION = StateMachine(
    "redemption",
    Redemption,
    Redemption.status,
    {
        # An admin hands the reward over against its code.
        "collect": Move({RedemptionStatus.ACTIVE}, RedemptionStatus.COLLECTED, _admin),
        # Points and stock go back.
        "cancel": Move({RedemptionStatus.ACTIVE}, RedemptionStatus.CANCELLED, _redeemer_or_admin),
    },
)
