"""Users, organisations, memberships and API keys."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import AnonymousUserMixin, UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Base
from app.models_base import UTCDateTime, enum_column, utcnow
from app.places import gazetteer
from app.statemachine import Move, StateMachine


class Role(enum.Enum):
    DONOR = "donor"
    COMPANY = "company"  # member or admin of a company (爱心企业)
    TEAM = "team"  # member or leader of a volunteer team (志愿服务队)
    CASEWORKER = "caseworker"
    VERIFIER = "verifier"  # verifier / supervisor of a district, city or the province
    ADMIN = "admin"
    AGENT = "agent"  # village agent (村级代办) or neighbour helper (邻里帮), bound to an area
    # A person in hardship who books offers (meals, goods) for themselves (app.offers).
    RECIPIENT = "recipient"


# Roles anyone may pick when signing up; the others are granted by an admin.
SELF_SERVICE_ROLES = (Role.DONOR, Role.COMPANY, Role.TEAM)


class OrgKind(enum.Enum):
    COMPANY = "company"
    TEAM = "team"


class OrgStatus(enum.Enum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Skill(enum.Enum):
    """Skills a repair may require; organisations get them verified by an admin."""

    ELECTRICIAN = "electrician"
    GAS_FITTER = "gas_fitter"
    PLUMBER = "plumber"
    MASON = "mason"
    ROOFER = "roofer"
    CARPENTER = "carpenter"


class BoardName(enum.Enum):
    """How a person appears on the public leaderboards (they choose; a nickname by default)."""

    NICKNAME = "nickname"
    NAME = "name"
    HIDDEN = "hidden"


class MemberRole(enum.Enum):
    MEMBER = "member"
    ADMIN = "admin"  # a company's admin, a team's leader


def nickname(display_name: str) -> str:
    """The first character and two stars, as Chinese sites mask names: 王** ."""
    return f"{display_name.strip()[:1] or '?'}**"


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    # Caseworkers and verifiers work within an area: a district, a city or the province.
    area_code: Mapped[str | None] = mapped_column(String(6))
    # A town or village (app.households.models.Area) inside ``area_code``: agents always,
    # staff optionally.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    # The language of emails and notifications to this person.
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    # How this person appears on public leaderboards (a BoardName value).
    board_name: Mapped[str] = mapped_column(
        String(10), default=BoardName.NICKNAME.value, server_default=BoardName.NICKNAME.value
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive accounts
        return self.is_active_account

    @property
    def nickname(self) -> str:
        return nickname(self.display_name)

    @property
    def public_name(self) -> str:
        """The name public leaderboards show: the display name only if the person chose it."""
        if self.board_name == BoardName.NAME.value:
            return self.display_name
        return nickname(self.display_name)

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    def works_in(self, district_code: str) -> bool:
        """True when a caseworker/verifier's area covers the district."""
        return self.area_code is not None and gazetteer.covers(self.area_code, district_code)

    def is_caseworker_for(self, district_code: str) -> bool:
        """A caseworker whose area covers the district: the one "caseworker of this area"
        rule (pages, services, the API and the transition tables all ask this)."""
        return (
            self.is_authenticated
            and self.has_role(Role.CASEWORKER)
            and self.works_in(district_code)
        )

    def is_staff_for(self, district_code: str) -> bool:
        """A caseworker or verifier of the area: who may see the household behind a need."""
        return (
            self.is_authenticated
            and self.has_role(Role.CASEWORKER, Role.VERIFIER)
            and self.works_in(district_code)
        )

    def is_verifier_for(self, district_code: str) -> bool:
        return (
            self.is_authenticated and self.has_role(Role.VERIFIER) and self.works_in(district_code)
        )

    @property
    def organisation(self) -> Organisation | None:
        return self.memberships[0].organisation if self.memberships else None

    def is_org_admin(self, organisation: Organisation) -> bool:
        return any(
            m.organisation_id == organisation.id and m.role is MemberRole.ADMIN
            for m in self.memberships
        )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, "org_kind"))
    name: Mapped[str] = mapped_column(String(120))
    # Unified social credit code (统一社会信用代码) for companies; checked by an admin.
    licence_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    district_code: Mapped[str] = mapped_column(String(6))
    description: Mapped[str] = mapped_column(String(500), default="")
    # Where a team or company works from, how far it travels, how many people it brings
    # and on which weekdays (ISO numbers, "12345" = Monday to Friday): for matching.
    base_lat: Mapped[float | None]
    base_lng: Mapped[float | None]
    radius_km: Mapped[int] = mapped_column(default=30)
    team_size: Mapped[int | None]
    available_weekdays: Mapped[str] = mapped_column(String(7), default="1234567")
    status: Mapped[OrgStatus] = mapped_column(
        enum_column(OrgStatus, "org_status"), default=OrgStatus.PENDING
    )
    status_note: Mapped[str] = mapped_column(String(500), default="")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )
    skills: Mapped[list[OrganisationSkill]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", lazy="selectin"
    )

    def has_skills(self, required: list[str]) -> bool:
        """True when an admin verified every required skill for this organisation."""
        verified = {s.skill for s in self.skills if s.verified_at is not None}
        return set(required) <= verified

    @property
    def is_verified(self) -> bool:
        return self.status is OrgStatus.VERIFIED

    def can_claim(self) -> bool:
        """Only organisations an admin has verified may claim anything."""
        return self.is_verified

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind.value} {self.status.value}>"


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    role: Mapped[MemberRole] = mapped_column(
        enum_column(MemberRole, "member_role"), default=MemberRole.MEMBER
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships", lazy="joined")


class TeamInvite(Base):
    """An invitation link (and QR code) to join a volunteer team; expires and can be revoked.
    No status column: usable means not revoked and not expired."""

    __tablename__ = "team_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship()


class ApiKey(Base):
    """A long-lived key for a company's systems. Only a hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User] = relationship()


class OrganisationSkill(Base):
    """A skill (electrician, ...) an organisation offers; counts once an admin verified it."""

    __tablename__ = "organisation_skills"
    __table_args__ = (UniqueConstraint("organisation_id", "skill"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    skill: Mapped[str] = mapped_column(String(20))  # a Skill value
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    organisation: Mapped[Organisation] = relationship(back_populates="skills")


class Visitor(AnonymousUserMixin):
    """Someone not signed in: answers the same questions as a ``User`` (always "no"), so
    pages and predicates ask ``user.is_caseworker_for(...)`` without checking first."""

    role = None
    area_code = None
    organisation = None
    memberships: list[Membership] = []

    def has_role(self, *roles: Role) -> bool:
        return False

    def works_in(self, district_code: str) -> bool:
        return False

    def is_caseworker_for(self, district_code: str) -> bool:
        return False

    def is_staff_for(self, district_code: str) -> bool:
        return False

    def is_verifier_for(self, district_code: str) -> bool:
        return False

    def is_org_admin(self, organisation: Organisation) -> bool:
        return False


def _admin(organisation: Organisation, actor: User | None) -> bool:
    return actor is not None and actor.has_role(Role.ADMIN)


#: An admin decides after checking the papers, and may decide again (a verified company
#: whose licence lapsed is turned down; a rejected one that sent new papers is verified).
ORGANISATION = StateMachine(
    "organisation",
    Organisation,
    Organisation.status,
    {
        "verify": Move(
            {OrgStatus.PENDING, OrgStatus.REJECTED, OrgStatus.VERIFIED}, OrgStatus.VERIFIED, _admin
        ),
        "reject": Move(
            {OrgStatus.PENDING, OrgStatus.VERIFIED, OrgStatus.REJECTED},
            OrgStatus.REJECTED,
            _admin,
            note_required=True,
        ),
    },
)
