"""Farm-help shifts and the places volunteer teams book on them, with hours worked."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Need
from app.statemachine import Move, StateMachine


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


def _member_or_leader(signup: ShiftSignup, actor: User | None) -> bool:
    """The member, their team's leader, or a caseworker of the area (cancelling the need)."""
    return actor is not None and (
        actor.id == signup.user_id
        or actor.is_org_admin(signup.organisation)
        or actor.is_caseworker_for(signup.shift.need.district_code)
    )


def _booker(signup: ShiftSignup, actor: User | None) -> bool:
    """A team leader booking their members, or a caseworker booking a team (season plan)."""
    if actor is None:
        return False
    organisation = actor.organisation
    return (organisation is not None and actor.is_org_admin(organisation)) or (
        actor.is_caseworker_for(signup.shift.need.district_code)
    )


SIGNUP = StateMachine(
    "shift-signup",
    ShiftSignup,
    ShiftSignup.status,
    {
        "cancel": Move({SignupStatus.BOOKED}, SignupStatus.CANCELLED, _member_or_leader),
        # A member signed up again after cancelling keeps their one row per shift.
        "rebook": Move({SignupStatus.CANCELLED}, SignupStatus.BOOKED, _booker),
    },
)
