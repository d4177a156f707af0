"""Cash donations and the Stripe events that moved them.

Amounts are integers in the currency's smallest unit (fen for CNY).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Need
from app.statemachine import Move, StateMachine, system


class CashStatus(enum.Enum):
    PENDING = "pending"  # Checkout Session created, not paid yet
    PAID = "paid"
    EXPIRED = "expired"  # the session expired unpaid
    FAILED = "failed"  # the payment failed
    REFUNDED = "refunded"  # all of it given back
    PARTLY_REFUNDED = "partly_refunded"  # the excess over the goal given back


# Paid money that counts toward a need's goal.
COUNTING = (CashStatus.PAID, CashStatus.PARTLY_REFUNDED)


class CashDonation(Base):
    __tablename__ = "cash_donations"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="cash_amount_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="cash_refund_bounds"
        ),
        CheckConstraint(
            "refund_due_minor >= 0 AND refunded_minor + refund_due_minor <= amount_minor",
            name="cash_refund_due_bounds",
        ),
        Index("ix_cash_need_status", "need_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"))
    donor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[CashStatus] = mapped_column(
        enum_column(CashStatus, "cash_status"), default=CashStatus.PENDING
    )
    refunded_minor: Mapped[int] = mapped_column(default=0)
    # Decided in a transaction, sent to Stripe after it commits (with an idempotency key),
    # then moved into ``refunded_minor``: a refund is never lost and never sent twice.
    refund_due_minor: Mapped[int] = mapped_column(default=0)
    refund_reason: Mapped[str] = mapped_column(String(20), default="")  # excess | cancelled
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    receipt_number: Mapped[str] = mapped_column(String(24), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    need: Mapped[Need] = relationship()
    donor: Mapped[User] = relationship()

    @property
    def kept_minor(self) -> int:
        """What the need keeps of this donation (refunds decided count as given back)."""
        return self.amount_minor - self.refunded_minor - self.refund_due_minor


class StripeEvent(Base):
    """Every webhook event processed, once: the id is the idempotency key."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


P = CashStatus
#: Stripe's webhooks and the refund worker move cash donations; nobody else does.
CASH = StateMachine(
    "cash-donation",
    CashDonation,
    CashDonation.status,
    {
        "pay": Move({P.PENDING}, P.PAID, system),
        "expire": Move({P.PENDING}, P.EXPIRED, system),
        "fail": Move({P.PENDING}, P.FAILED, system),
        "refund_part": Move({P.PAID}, P.PARTLY_REFUNDED, system),
        "refund": Move({P.PAID, P.PARTLY_REFUNDED}, P.REFUNDED, system),
    },
)
