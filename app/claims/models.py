"""Claims, shifts and sign-ups, in-kind donations, follow-up visits.

A micro-wish or a repair has at most one live claim (a partial unique index backs the
compare-and-set on the need's state). Farm help is not claimed by one party: volunteer
teams book places on the caseworker's shifts.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Need


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

    def __repr__(self) -> str:
        return f"<Claim {self.id} need={self.need_id} {self.status.value}>"


class Shift(Base):
    """A slot of farm work on one day; teams book places on it."""

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("places > 0", name="places_positive"),
        CheckConstraint("places_taken >= 0 AND places_taken <= places", name="never_overbooked"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    places: Mapped[int]
    places_taken: Mapped[int] = mapped_column(default=0)
    meeting_point: Mapped[str] = mapped_column(String(200), default="")
    # Shown by the caseworker on site; members check in and out with it.
    checkin_code: Mapped[str] = mapped_column(String(8))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    need: Mapped[Need] = relationship()
    signups: Mapped[list[ShiftSignup]] = relationship(back_populates="shift")

    @property
    def places_left(self) -> int:
        return self.places - self.places_taken

    @property
    def length_minutes(self) -> int:
        return (self.end_time.hour * 60 + self.end_time.minute) - (
            self.start_time.hour * 60 + self.start_time.minute
        )


class SignupStatus(enum.Enum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class ShiftSignup(Base):
    """One team member's place on a shift, with the hours they actually worked."""

    __tablename__ = "shift_signups"
    __table_args__ = (UniqueConstraint("shift_id", "user_id", name="uq_signup_member_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    signed_up_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[SignupStatus] = mapped_column(
        enum_column(SignupStatus, "signup_status"), default=SignupStatus.BOOKED
    )
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    minutes_worked: Mapped[int | None]
    # Hours count (for points, reports) only once the caseworker confirmed the work.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    shift: Mapped[Shift] = relationship(back_populates="signups")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship()

    @property
    def hours_worked(self) -> float:
        return round((self.minutes_worked or 0) / 60, 2)


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


class FollowUp(Base):
    """The caseworker's visit after a need was confirmed (回访)."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
