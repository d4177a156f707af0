"""Claims: who took a micro-wish or a repair, and how far it got.

A micro-wish or a repair has at most one live claim (a partial unique index backs the
compare-and-set on the need's state). Farm help is not claimed by one party: volunteer
teams book places on the caseworker's shifts.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Need
from app.statemachine import Move, StateMachine, system


class DeliveryMethod(enum.Enum):
    # Handed to the caseworker or a station; the household stays anonymous to the donor.
    HANDOVER = "handover"
    # Delivered at the home: the address is shown only after the caseworker accepts.
    IN_PERSON = "in_person"
    # Funded in cash by one or more donors; the caseworker buys and delivers.
    CASH = "cash"


class ClaimStatus(enum.Enum):
    PENDING = "pending"  # in person: waiting for the caseworker to accept
    ACTIVE = "active"
    DELIVERED = "delivered"
    DISPUTED = "disputed"  # the caseworker found the delivery wanting; back to the claimer
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"  # by the claimer
    RELEASED = "released"  # by the caseworker, with a reason
    EXPIRED = "expired"  # by the sweep, past its due date


LIVE_CLAIM_STATUSES = (
    ClaimStatus.PENDING,
    ClaimStatus.ACTIVE,
    ClaimStatus.DELIVERED,
    ClaimStatus.DISPUTED,
)
_LIVE_SQL = "status IN ('pending', 'active', 'delivered', 'disputed')"


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        # One live claim per need, whatever races the application code loses.
        Index(
            "uq_claims_one_live_per_need",
            "need_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        CheckConstraint("plan_cost_yuan IS NULL OR plan_cost_yuan >= 0", name="plan_cost_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    claimant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    method: Mapped[DeliveryMethod] = mapped_column(enum_column(DeliveryMethod, "delivery_method"))
    status: Mapped[ClaimStatus] = mapped_column(enum_column(ClaimStatus, "claim_status"))
    # What the claimer shows at the station; random, so it says nothing about the household.
    handover_code: Mapped[str] = mapped_column(String(12), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Repairs: the claimer's plan and price, and the spot inspection.
    plan: Mapped[str] = mapped_column(Text, default="")
    plan_cost_yuan: Mapped[int | None]
    inspection_required: Mapped[bool] = mapped_column(default=False)
    inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inspected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspection_passed: Mapped[bool | None]
    inspection_note: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_note: Mapped[str] = mapped_column(String(1000), default="")
    dispute_note: Mapped[str] = mapped_column(String(500), default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    need: Mapped[Need] = relationship()
    claimant: Mapped[User] = relationship(foreign_keys=[claimant_id])
    organisation: Mapped[Organisation | None] = relationship()

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_CLAIM_STATUSES

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    def is_held_by(self, user: User | None) -> bool:
        """The claimer, or an admin of the organisation that holds the claim."""
        if user is None or not user.is_authenticated:
            return False
        if self.claimant_id == user.id:
            return True
        org = user.organisation
        return org is not None and self.organisation_id == org.id and user.is_org_admin(org)

    def is_caseworker(self, user: User | None) -> bool:
        return user is not None and user.is_caseworker_for(self.need.district_code)

    def __repr__(self) -> str:
        return f"<Claim {self.id} need={self.need_id} {self.status.value}>"


def _holder(claim: Claim, actor: User | None) -> bool:
    return claim.is_held_by(actor)


def _caseworker(claim: Claim, actor: User | None) -> bool:
    return claim.is_caseworker(actor)


def _deliverer(claim: Claim, actor: User | None) -> bool:
    """The claimer delivers; what cash paid for, the caseworker buys and delivers."""
    if claim.method is DeliveryMethod.CASH:
        return claim.is_caseworker(actor)
    return claim.is_held_by(actor)


C = ClaimStatus
_ENDABLE = (C.PENDING, C.ACTIVE, C.DISPUTED)

CLAIM = StateMachine(
    "claim",
    Claim,
    Claim.status,
    {
        "accept": Move({C.PENDING}, C.ACTIVE, _caseworker),
        "withdraw": Move(_ENDABLE, C.WITHDRAWN, _holder),
        # By a caseworker, with a reason; also when the need is cancelled.
        "release": Move(_ENDABLE, C.RELEASED, _caseworker),
        "deliver": Move({C.ACTIVE, C.DISPUTED}, C.DELIVERED, _deliverer),
        "confirm": Move({C.DELIVERED}, C.CONFIRMED, _caseworker),
        "dispute": Move({C.DELIVERED}, C.DISPUTED, _caseworker, note_required=True),
        "unconfirm": Move({C.CONFIRMED}, C.DELIVERED, _caseworker),
        # Not delivered by its due date: the sweep takes it back.
        "lapse": Move(_ENDABLE, C.EXPIRED, system, note_required=True),
    },
)
