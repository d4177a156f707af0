"""Applications a village agent takes for a household (村级代办, 邻里帮).

Private like a household: the applicant's name, ID number, phone and address are read only
by the agent who entered them and by caseworkers and supervisors of the district.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Role, User
from app.extensions import Base
from app.households.models import Area
from app.models_base import UTCDateTime, enum_column, utcnow
from app.needs.models import CareCategory, Household, Need, NeedKind, PersonGroup


class ApplicationStatus(enum.Enum):
    SUBMITTED = "submitted"  # waiting in the caseworker's intake queue
    RETURNED = "returned"  # sent back to the agent with a reason
    ACCEPTED = "accepted"  # a household and a draft need exist
    HELPED = "helped"  # the need it became was confirmed as helped
    WITHDRAWN = "withdrawn"  # the agent took it back


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_queue", "district_code", "status"),
        Index("ix_applications_agent", "agent_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    # Who: private, like a household's head. ``id_number`` is one column, so a keyed hash
    # for duplicate detection can be added beside it.
    applicant_name: Mapped[str] = mapped_column(String(80))
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    group: Mapped[PersonGroup] = mapped_column(enum_column(PersonGroup, "application_group"))
    # What is needed, in the agent's words.
    kind: Mapped[NeedKind] = mapped_column(enum_column(NeedKind, "application_kind"))
    category: Mapped[CareCategory] = mapped_column(
        enum_column(CareCategory, "application_category")
    )
    need_text: Mapped[str] = mapped_column(Text)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus, "application_status"),
        default=ApplicationStatus.SUBMITTED,
    )
    return_reason: Mapped[str] = mapped_column(String(500), default="")
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    agent: Mapped[User] = relationship(foreign_keys=[agent_id])
    area: Mapped[Area | None] = relationship()
    household: Mapped[Household | None] = relationship()
    need: Mapped[Need | None] = relationship()

    def is_agent(self, user: User) -> bool:
        return user.is_authenticated and user.id == self.agent_id

    def can_decide(self, user: User) -> bool:
        """Caseworkers of the district accept or return it."""
        return (
            user.is_authenticated
            and user.has_role(Role.CASEWORKER)
            and user.works_in(self.district_code)
        )

    def can_view(self, user: User) -> bool:
        return self.is_agent(user) or (
            user.is_authenticated
            and user.has_role(Role.CASEWORKER, Role.VERIFIER)
            and user.works_in(self.district_code)
        )

    def __repr__(self) -> str:  # never the name
        return f"<Application {self.id} {self.status.value}>"
