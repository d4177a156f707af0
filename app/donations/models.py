"""In-kind donations by companies, for a need or into a district's resource pool."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Need
from app.statemachine import Move, StateMachine


class DonationStatus(enum.Enum):
    LOGGED = "logged"  # the company says it gave
    RECEIVED = "received"  # a caseworker confirmed receipt: now it counts
    REJECTED = "rejected"


class Donation(Base):
    """A company's donation in kind, for a need or into its district's resource pool."""

    __tablename__ = "donations"
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_ref", name="uq_donation_external_ref"),
        CheckConstraint("quantity > 0", name="donation_quantity_positive"),
        CheckConstraint("value_yuan >= 0", name="donation_value_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"), index=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    item: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int]
    value_yuan: Mapped[int]
    note: Mapped[str] = mapped_column(String(500), default="")
    # The company's own reference (CSV row or API call): replaying it does not log twice.
    external_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[DonationStatus] = mapped_column(
        enum_column(DonationStatus, "donation_status"), default=DonationStatus.LOGGED
    )
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    need: Mapped[Need | None] = relationship()


def _caseworker(donation: Donation, actor: User | None) -> bool:
    return actor is not None and actor.is_caseworker_for(donation.district_code)


DONATION = StateMachine(
    "donation",
    Donation,
    Donation.status,
    {
        # The goods arrived: from now on the donation counts (points, reports).
        "receive": Move({DonationStatus.LOGGED}, DonationStatus.RECEIVED, _caseworker),
        "reject": Move({DonationStatus.LOGGED}, DonationStatus.REJECTED, _caseworker),
    },
)
