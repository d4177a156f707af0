"""Offers, their time windows (slots), bookings with pickup codes, the people in hardship
who book for themselves, and the permits a restaurant must keep valid.

Privacy: a ``Booking`` links a code to a household or a recipient account; the provider
only ever sees the code, the slot and the quantity (see ``services.check_code``).
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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.donations.models import Donation
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Household
from app.places import gazetteer


class OfferKind(enum.Enum):
    MEAL = "meal"  # M餐: portions in time windows on given weekdays
    GOODS = "goods"  # an item, a quantity, a unit, an expiry and a pickup place
    SERVICE = "service"  # a haircut, a repair check, legal advice: slots


class OfferStatus(enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class PauseReason(enum.Enum):
    NONE = "none"
    PROVIDER = "provider"  # the organisation paused it
    PERMIT = "permit"  # a licence or food-hygiene permit lapsed (the sweep paused it)


class BookingStatus(enum.Enum):
    BOOKED = "booked"  # the code is valid for its slot
    REDEEMED = "redeemed"  # picked up: the provider checked and used the code
    CANCELLED = "cancelled"  # given back before the window; the portion is free again
    NO_SHOW = "no_show"  # the window passed unused; the code expired, the portion freed


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_list", "status", "district_code", "kind"),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="offer_quantity_positive"),
        CheckConstraint(
            "portions_per_window IS NULL OR portions_per_window > 0", name="offer_portions_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[OfferKind] = mapped_column(enum_column(OfferKind, "offer_kind"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    # The provider's own pickup place (a restaurant, a station): public, it is a business.
    place: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float]
    lng: Mapped[float]
    status: Mapped[OfferStatus] = mapped_column(
        enum_column(OfferStatus, "offer_status"), default=OfferStatus.ACTIVE
    )
    pause_reason: Mapped[PauseReason] = mapped_column(
        enum_column(PauseReason, "offer_pause_reason"), default=PauseReason.NONE
    )
    # Meals: ISO weekdays ("12345"), one window a day, portions per window.
    weekdays: Mapped[str] = mapped_column(String(7), default="")
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    portions_per_window: Mapped[int | None]
    # Goods: what, how many of which unit, until when they keep.
    item: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int | None]
    unit: Mapped[str | None] = mapped_column(String(20))
    expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    slots: Mapped[list[OfferSlot]] = relationship(
        back_populates="offer", order_by="OfferSlot.starts_at", cascade="all, delete-orphan"
    )

    @property
    def district(self) -> gazetteer.Place | None:
        return gazetteer.get(self.district_code)

    @property
    def is_bookable(self) -> bool:
        return self.status is OfferStatus.ACTIVE

    def is_provider(self, user: User) -> bool:
        """A member of the organisation that offers it (they check and redeem codes)."""
        return user.is_authenticated and any(
            m.organisation_id == self.organisation_id for m in user.memberships
        )

    def can_manage(self, user: User) -> bool:
        return user.is_authenticated and user.is_org_admin(self.organisation)

    def __repr__(self) -> str:
        return f"<Offer {self.id} {self.kind.value} {self.status.value}>"


class OfferSlot(Base):
    """One window in which portions (or goods, or service places) can be picked up.
    ``booked`` moves only by a conditional UPDATE; the CHECK makes over-booking impossible."""

    __tablename__ = "offer_slots"
    __table_args__ = (
        UniqueConstraint("offer_id", "starts_at"),
        CheckConstraint("capacity > 0", name="slot_capacity_positive"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="slot_never_overbooked"),
        CheckConstraint("ends_at > starts_at", name="slot_ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    offer: Mapped[Offer] = relationship(back_populates="slots")

    @property
    def left(self) -> int:
        return self.capacity - self.booked


class Recipient(Base):
    """A person in hardship with their own account. Until a caseworker links them to a
    household they may book a few pickups without proof (counted per account and, through
    the unique phone hash, per phone). Only a hash of the phone is kept."""

    __tablename__ = "offer_recipients"
    __table_args__ = (CheckConstraint("unverified_used >= 0", name="recipient_used_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Pickups booked without proof so far (cancelled ones are given back).
    unverified_used: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    household: Mapped[Household | None] = relationship()

    @property
    def is_linked(self) -> bool:
        return self.household_id is not None

    def __repr__(self) -> str:  # never the phone: reprs end up in logs
        return f"<Recipient {self.id} linked={self.is_linked}>"


class Booking(Base):
    """One booked portion and its pickup code. The code is random and says nothing."""

    __tablename__ = "offer_bookings"
    __table_args__ = (
        Index("ix_offer_bookings_slot", "slot_id", "status"),
        Index("ix_offer_bookings_household", "household_id", "status"),
        Index("ix_offer_bookings_recipient", "recipient_id", "status"),
        Index("ix_offer_bookings_expiry", "status", "expires_at"),
        CheckConstraint(
            "household_id IS NOT NULL OR recipient_id IS NOT NULL", name="booking_for_someone"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("offer_slots.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("offer_recipients.id"))
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Booked without proof of eligibility (one of a recipient's first pickups).
    unverified: Mapped[bool] = mapped_column(default=False)
    status: Mapped[BookingStatus] = mapped_column(
        enum_column(BookingStatus, "offer_booking_status"), default=BookingStatus.BOOKED
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    offer: Mapped[Offer] = relationship()
    slot: Mapped[OfferSlot] = relationship()
    recipient: Mapped[Recipient | None] = relationship()
    household: Mapped[Household | None] = relationship()

    def __repr__(self) -> str:  # never the code or the household
        return f"<Booking {self.id} {self.status.value}>"


class ProviderPermit(Base):
    """A restaurant's business licence and food-hygiene permit expiry dates (Futian checks
    both). Changed dates wait for an admin's re-review; a lapse pauses its meal offers."""

    __tablename__ = "offer_permits"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), unique=True
    )
    licence_expires_on: Mapped[date] = mapped_column(Date)
    hygiene_expires_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    organisation: Mapped[Organisation] = relationship(lazy="joined")

    def lapsed(self, today: date) -> bool:
        return self.licence_expires_on < today or self.hygiene_expires_on < today

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None and self.reviewed_at >= self.updated_at

    def valid(self, today: date) -> bool:
        """Dates in the future and checked by an admin since they last changed."""
        return self.reviewed and not self.lapsed(today)


class ReservationStatus(enum.Enum):
    RESERVED = "reserved"  # set aside for a household; the code is valid at the station
    HANDED_OUT = "handed_out"  # the station handed the goods over against the code
    CANCELLED = "cancelled"  # given back; the stock is free again
    EXPIRED = "expired"  # not collected in time; the stock is free again


class PoolStock(Base):
    """Stock bookkeeping of one pooled donation (the district's resource pool is the
    received, unallocated in-kind donations of ``app.donations``): how much is set aside,
    and until when the goods keep. ``reserved`` moves only by a conditional UPDATE."""

    __tablename__ = "pool_stock"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="pool_quantity_positive"),
        CheckConstraint("reserved >= 0 AND reserved <= quantity", name="pool_never_overdrawn"),
    )

    donation_id: Mapped[int] = mapped_column(
        ForeignKey("donations.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int]
    reserved: Mapped[int] = mapped_column(default=0)
    expires_on: Mapped[date | None] = mapped_column(Date)

    @property
    def left(self) -> int:
        return self.quantity - self.reserved


class PoolReservation(Base):
    """Part of a pool item set aside for a household, collected with a pickup code."""

    __tablename__ = "pool_reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="reservation_quantity_positive"),
        Index("ix_pool_reservations_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))
    quantity: Mapped[int]
    code: Mapped[str] = mapped_column(String(12), unique=True)
    reserved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[ReservationStatus] = mapped_column(
        enum_column(ReservationStatus, "pool_reservation_status"),
        default=ReservationStatus.RESERVED,
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handed_out_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    donation: Mapped[Donation] = relationship()
    household: Mapped[Household] = relationship()

    def __repr__(self) -> str:  # never the code or the household
        return f"<PoolReservation {self.id} {self.status.value}>"
