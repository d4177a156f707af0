"""Households, needs of three kinds, and the events of each need's life.

Privacy: a ``Household`` holds everything that identifies a person. Nothing public ever
reads it; a ``Need`` carries only the story and an approximate location.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Role, Skill, User
from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.places import gazetteer


class PersonGroup(enum.Enum):
    """Zhongshan's 7 groups of people (7+6+N)."""

    POOR_STUDENT = "poor_student"
    UNEMPLOYED = "unemployed"
    ILL_OR_DISABLED = "ill_or_disabled"
    ELDERLY = "elderly"
    CHILD_IN_DIFFICULTY = "child_in_difficulty"
    HOUSING_HARDSHIP = "housing_hardship"
    HOMELESS = "homeless"


class CareCategory(enum.Enum):
    """The 6 kinds of care (7+6+N); the public category of a need."""

    VISITS = "visits"
    LIVING = "living"
    EDUCATION = "education"
    JOBS = "jobs"
    MEDICAL = "medical"
    HOUSING = "housing"


class NeedKind(enum.Enum):
    MICRO_WISH = "micro_wish"  # 微心愿
    FARM_HELP = "farm_help"  # 助农耕
    REPAIR = "repair"  # 安心善居


class Urgency(enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Urgency).index(self)


class RepairCategory(enum.Enum):
    ELECTRICAL = "electrical"
    GAS = "gas"
    GRAB_BARS = "grab_bars"
    ANTI_SLIP = "anti_slip"
    ROOF = "roof"
    PLUMBING = "plumbing"
    OTHER = "other"


class NeedState(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    REJECTED = "rejected"
    CLAIMED = "claimed"
    DELIVERED = "delivered"
    CONFIRMED = "confirmed"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Only a verified need is ever public; these are the states after verification.
PUBLIC_STATES = frozenset(
    {
        NeedState.PUBLISHED,
        NeedState.CLAIMED,
        NeedState.DELIVERED,
        NeedState.CONFIRMED,
        NeedState.CLOSED,
    }
)
EDITABLE_STATES = frozenset({NeedState.DRAFT, NeedState.REJECTED})


class Assistance(enum.Enum):
    """The household's social assistance status (what visit rules usually key on)."""

    NONE = "none"
    DIBAO = "dibao"  # 低保
    TEKUN = "tekun"  # 特困
    MARGINAL = "marginal"  # 低保边缘
    EXPENDITURE = "expenditure"  # 支出型困难


class ConsentScope(enum.Enum):
    """What the household agreed may be published, anonymised."""

    NONE = "none"  # nothing: needs stay with the caseworker
    STORY = "story"  # an anonymised story
    STORY_PHOTOS = "story_photos"  # an anonymised story and photos without faces


class Light(enum.Enum):
    """Traffic lights (穗救易): how recent and effective the help is. Computed by
    ``app.supervision.lights``, stored so supervisors can count and filter quickly."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    NONE = "none"  # drafts and finished needs carry no light


class Household(Base):
    """A household a caseworker knows. Private: never rendered outside the caseworker's area."""

    __tablename__ = "households"
    __table_args__ = (CheckConstraint("need_score BETWEEN -2 AND 2", name="need_score_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    group: Mapped[PersonGroup] = mapped_column(enum_column(PersonGroup, "person_group"))
    # Guangzhou's "talking verification report": -2..2, higher means more need.
    need_score: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # Circumstances (app.households): where registered (户籍), the town and village they
    # live in, assistance status, other groups and kinds of care (7+6+N), consent.
    registered_district_code: Mapped[str | None] = mapped_column(String(6))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    assistance: Mapped[Assistance] = mapped_column(
        enum_column(Assistance, "assistance"), default=Assistance.NONE
    )
    lives_alone: Mapped[bool] = mapped_column(default=False)
    extra_groups: Mapped[str] = mapped_column(String(200), default="")  # PersonGroup values
    care_kinds: Mapped[str] = mapped_column(String(200), default="")  # CareCategory values
    local_services: Mapped[str] = mapped_column(String(200), default="")  # LocalService ids
    consent_on: Mapped[date | None] = mapped_column(Date)
    consent_scope: Mapped[ConsentScope] = mapped_column(
        enum_column(ConsentScope, "consent_scope"), default=ConsentScope.NONE
    )
    # Score factors (会说话的核对报告); monthly income per head and savings in yuan.
    income_per_head_yuan: Mapped[int | None]
    savings_yuan: Mapped[int | None]
    has_car: Mapped[bool] = mapped_column(default=False)
    has_extra_house: Mapped[bool] = mapped_column(default=False)
    # ``need_score`` is the score in force: the computed one, or a caseworker's override.
    computed_score: Mapped[int] = mapped_column(Integer, default=0)
    score_override: Mapped[int | None]
    score_override_reason: Mapped[str] = mapped_column(String(500), default="")
    # Household light (visits on schedule, found needs acted on), turned by the sweep.
    visit_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    light: Mapped[Light] = mapped_column(enum_column(Light, "household_light"), default=Light.GREEN)
    light_reason: Mapped[str] = mapped_column(String(40), default="")
    light_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    needs: Mapped[list[Need]] = relationship(back_populates="household")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    def can_view(self, user: User) -> bool:
        return user.is_staff_for(self.district_code)

    def can_edit(self, user: User) -> bool:
        return user.is_caseworker_for(self.district_code)

    def __repr__(self) -> str:  # never the name: reprs end up in logs
        return f"<Household {self.id} {self.district_code}>"


class Need(Base):
    """One need of one household. Kind-specific fields live on the subclasses (one table)."""

    __tablename__ = "needs"
    __table_args__ = (
        Index("ix_needs_public_list", "state", "district_code", "kind"),
        Index("ix_needs_light", "district_code", "light"),
        # The longest-red needs of the province (reports' monthly report).
        Index("ix_needs_red_list", "light", "light_changed_at"),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "volunteers_needed IS NULL OR volunteers_needed > 0", name="volunteers_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NeedKind] = mapped_column(enum_column(NeedKind, "need_kind"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(120))
    story: Mapped[str] = mapped_column(Text)
    category: Mapped[CareCategory] = mapped_column(enum_column(CareCategory, "care_category"))
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency, "urgency"))
    deadline: Mapped[date | None] = mapped_column(Date)
    approx_lat: Mapped[float]
    approx_lng: Mapped[float]
    state: Mapped[NeedState] = mapped_column(
        enum_column(NeedState, "need_state"), default=NeedState.DRAFT
    )
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    # Who holds the need while it is claimed (a person, and the organisation they act for).
    claimant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimant_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    # Micro-wish
    item: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int | None]
    estimated_value_yuan: Mapped[int | None]
    # Farm help
    task: Mapped[str | None] = mapped_column(String(120))
    window_start: Mapped[date | None] = mapped_column(Date)
    window_end: Mapped[date | None] = mapped_column(Date)
    volunteers_needed: Mapped[int | None]
    hours_per_volunteer: Mapped[int | None]
    # Repair
    repair_category: Mapped[RepairCategory | None] = mapped_column(
        enum_column(RepairCategory, "repair_category")
    )
    skills_required: Mapped[str | None] = mapped_column(String(200))  # comma-separated Skill values
    estimated_cost_yuan: Mapped[int | None]
    exception_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    exception_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exception_note: Mapped[str] = mapped_column(String(500), default="")

    # Supervision
    light: Mapped[Light] = mapped_column(enum_column(Light, "light"), default=Light.NONE)
    light_reason: Mapped[str] = mapped_column(String(40), default="")
    light_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a claim on this need last lapsed undelivered (the light stays red a while).
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A short thank-you the caseworker approved for the public page (no personal details).
    thank_you: Mapped[str] = mapped_column(String(500), default="")

    household: Mapped[Household] = relationship(back_populates="needs")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    claimant: Mapped[User | None] = relationship(foreign_keys=[claimant_id])
    events: Mapped[list[NeedEvent]] = relationship(
        back_populates="need", order_by="NeedEvent.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"polymorphic_on": "kind"}

    # --- what the public may know -------------------------------------------------------
    @property
    def is_public(self) -> bool:
        return self.state in PUBLIC_STATES

    @property
    def district(self) -> gazetteer.Place | None:
        return gazetteer.get(self.district_code)

    @property
    def city(self) -> gazetteer.Place:
        return gazetteer.city_of(self.district_code)

    @property
    def skills(self) -> list[Skill]:
        if not self.skills_required:
            return []
        return [Skill(value) for value in self.skills_required.split(",") if value]

    # --- permissions (used by views, templates and services alike) ----------------------
    def can_view(self, user: User) -> bool:
        return self.is_public or self.can_view_private(user)

    def can_view_private(self, user: User) -> bool:
        """The household behind the need: caseworkers and verifiers of its area only."""
        return user.is_staff_for(self.district_code)

    def can_edit(self, user: User) -> bool:
        return self.state in EDITABLE_STATES and user.is_caseworker_for(self.district_code)

    def can_claim(self, user: User) -> bool:
        """Donors claim micro-wishes; verified companies take micro-wishes and repairs;
        verified volunteer teams take farm help (through shifts) and repairs."""
        if not (self.state is NeedState.PUBLISHED and user.is_authenticated):
            return False
        if user.has_role(Role.DONOR):
            return self.kind is NeedKind.MICRO_WISH
        kinds = {
            Role.COMPANY: (NeedKind.MICRO_WISH, NeedKind.REPAIR),
            Role.TEAM: (NeedKind.FARM_HELP, NeedKind.REPAIR),
        }.get(user.role, ())
        organisation = user.organisation
        return self.kind in kinds and organisation is not None and organisation.can_claim()

    @property
    def is_red_or_overdue(self) -> bool:
        """Red, or overdue once: help confirmed now earns the rescue bonus (read it before
        confirming; the confirmation recomputes the light)."""
        return self.light is Light.RED or self.overdue_at is not None

    def is_claimant(self, user: User) -> bool:
        return user.is_authenticated and self.claimant_id == user.id

    def needs_cost_exception(self, cap_yuan: int) -> bool:
        return self.kind is NeedKind.REPAIR and (self.estimated_cost_yuan or 0) > cap_yuan

    @property
    def has_cost_exception(self) -> bool:
        return self.exception_approved_at is not None

    def __repr__(self) -> str:
        return f"<Need {self.id} {self.kind.value} {self.state.value}>"


class MicroWish(Need):
    __mapper_args__ = {"polymorphic_identity": NeedKind.MICRO_WISH}


class FarmHelp(Need):
    __mapper_args__ = {"polymorphic_identity": NeedKind.FARM_HELP}


class Repair(Need):
    __mapper_args__ = {"polymorphic_identity": NeedKind.REPAIR}


NEED_CLASSES: dict[NeedKind, type[Need]] = {
    NeedKind.MICRO_WISH: MicroWish,
    NeedKind.FARM_HELP: FarmHelp,
    NeedKind.REPAIR: Repair,
}


class NeedEvent(Base):
    """One transition of a need: who, when, from, to, why. Append-only."""

    __tablename__ = "need_events"
    # Reports count events by action and month (app/reports/rollups.py).
    __table_args__ = (Index("ix_need_events_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_state: Mapped[NeedState | None] = mapped_column(enum_column(NeedState, "event_from"))
    to_state: Mapped[NeedState] = mapped_column(enum_column(NeedState, "event_to"))
    action: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(500), default="")

    need: Mapped[Need] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


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
