"""Areas below the district, household members, local services, visit rules, visits,
四必访 events and the household's history.

Privacy: members, visits and the history are as private as the household itself; only
caseworkers and supervisors of the household's area ever read them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from app.accounts.models import User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import Household, Need


class AreaLevel(enum.Enum):
    TOWN = "town"  # 镇/街道
    VILLAGE = "village"  # 村/社区


class Area(Base):
    """A street/town or a village/community under a district, kept by an admin (the
    gazetteer stops at counties)."""

    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("district_code", "parent_id", "name", name="uq_areas_name"),
        CheckConstraint(
            "(level = 'town' AND parent_id IS NULL) "
            "OR (level = 'village' AND parent_id IS NOT NULL)",
            name="area_parent_by_level",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    level: Mapped[AreaLevel] = mapped_column(enum_column(AreaLevel, "area_level"))
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])

    @property
    def town_id(self) -> int:
        return self.parent_id if self.parent_id is not None else self.id

    def __repr__(self) -> str:
        return f"<Area {self.id} {self.level.value} {self.district_code}>"


class LocalService(Base):
    """One of the "N" local extra services (cleaning, meals, escorts...) a city offers."""

    __tablename__ = "local_services"
    __table_args__ = (UniqueConstraint("city_code", "name", name="uq_local_services_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)


class CityPolicy(Base):
    """Per-city figures the need score reads: the 低保 line (yuan per person per month)."""

    __tablename__ = "city_policies"

    city_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    dibao_line_yuan: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Relation(enum.Enum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    GRANDCHILD = "grandchild"
    PARENT = "parent"
    SIBLING = "sibling"
    OTHER = "other"


class HouseholdMember(Base):
    """A member of a household: as private as the head."""

    __tablename__ = "household_members"
    __table_args__ = (CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="birth_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    # Declared from this side: needs knows nothing of members. ``household.members`` is
    # what the privacy guard reads (members are as private as the head).
    household: Mapped[Household] = relationship(
        backref=backref("members", order_by="HouseholdMember.id", viewonly=True),
        viewonly=True,
    )
    name: Mapped[str] = mapped_column(String(80))
    relation: Mapped[Relation] = mapped_column(enum_column(Relation, "member_relation"))
    birth_year: Mapped[int] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    seriously_ill: Mapped[bool] = mapped_column(Boolean, default=False)
    works: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self) -> str:  # never the name
        return f"<HouseholdMember {self.id} of {self.household_id}>"


class LifeEvent(enum.Enum):
    """四必访: events that require a visit within a set number of days."""

    ILLNESS = "illness"
    DISASTER = "disaster"
    DEATH = "death"
    INCOME_DROP = "income_drop"


class VisitRule(Base):
    """How often households of a kind are visited, or how soon after an event.

    ``criterion`` is ``assistance:<Assistance>``, ``group:<PersonGroup>``,
    ``alone_disabled`` (lives alone with a disabled or seriously ill member) or
    ``event:<LifeEvent>``; ``days`` is the interval (or the limit after an event).
    """

    __tablename__ = "visit_rules"
    __table_args__ = (CheckConstraint("days BETWEEN 1 AND 366", name="visit_rule_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    criterion: Mapped[str] = mapped_column(String(40), unique=True)
    days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class HouseholdEvent(Base):
    """A 四必访 event recorded for a household: a visit is due within the rule's days."""

    __tablename__ = "household_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[LifeEvent] = mapped_column(enum_column(LifeEvent, "life_event"))
    occurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VisitMethod(enum.Enum):
    HOME = "home"
    PHONE = "phone"
    STATION = "station"  # at a 为民驿站 or service station
    VIDEO = "video"


class Finding(enum.Enum):
    """The tick list of what a visit found."""

    ALL_WELL = "all_well"
    HEALTH_WORSE = "health_worse"
    SHORT_OF_FOOD = "short_of_food"
    UNSAFE_HOME = "unsafe_home"
    INCOME_DROP = "income_drop"
    NEEDS_CARE = "needs_care"
    LONELY = "lonely"
    SCHOOL_TROUBLE = "school_trouble"


class VisitStatus(enum.Enum):
    LOGGED = "logged"
    REJECTED = "rejected"  # a supervisor found the record wanting: no points


class Visit(Base):
    """One visit (探访/回访) to a household."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_household_time", "household_id", "visited_at"),
        Index("ix_visits_visitor_time", "visitor_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    visitor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[VisitMethod] = mapped_column(enum_column(VisitMethod, "visit_method"))
    # Who was met: the head, a member, a neighbour...
    met: Mapped[str] = mapped_column(String(80), default="")
    findings: Mapped[str] = mapped_column(String(200), default="")  # Finding values
    note: Mapped[str] = mapped_column(Text, default="")
    need_found: Mapped[bool] = mapped_column(default=False)
    draft_need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id", ondelete="SET NULL"))
    status: Mapped[VisitStatus] = mapped_column(
        enum_column(VisitStatus, "visit_status"), default=VisitStatus.LOGGED
    )
    review_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    household: Mapped[Household] = relationship()
    visitor: Mapped[User] = relationship()
    draft_need: Mapped[Need | None] = relationship()

    @property
    def finding_list(self) -> list[Finding]:
        return [Finding(v) for v in self.findings.split(",") if v]

    def __repr__(self) -> str:
        return f"<Visit {self.id} of {self.household_id}>"


class HouseholdHistory(Base):
    """The household's timeline: edits, visits, events, score overrides, applications,
    light changes. Append-only."""

    __tablename__ = "household_history"
    __table_args__ = (Index("ix_household_history", "household_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()
