"""Reports: rollup tables the dashboards read, the export audit log, import batches.

The rollups are derived data: ``app.reports.rollups.refresh`` rebuilds them from the
domain tables (the worker does it on a schedule; an import does it for its districts).
They hold counts and sums only, never a name, an ID number or an address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import Base
from app.models_base import UTCDateTime, utcnow


class NeedMonth(Base):
    """Needs collected, published and resolved per local month and district, counted
    along one dimension at a time (``dimension`` is ``kind``, ``category``, ``group`` or
    ``all``; ``key`` the value). A dashboard groups by one dimension, so a province-wide
    question reads a few thousand rows, whatever the number of needs."""

    __tablename__ = "report_need_months"
    __table_args__ = (
        Index("ix_report_need_months_area", "dimension", "district_code", "month"),
        Index("ix_report_need_months_month", "dimension", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, Beijing time
    district_code: Mapped[str] = mapped_column(String(6))
    dimension: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(24))
    collected: Mapped[int] = mapped_column(server_default=text("0"))
    published: Mapped[int] = mapped_column(server_default=text("0"))
    resolved: Mapped[int] = mapped_column(server_default=text("0"))


class HouseholdMonth(Base):
    """Households recorded per local month, district and person group."""

    __tablename__ = "report_household_months"
    __table_args__ = (Index("ix_report_household_months_area", "district_code", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    district_code: Mapped[str] = mapped_column(String(6))
    person_group: Mapped[str] = mapped_column(String(24))
    recorded: Mapped[int]


class DurationMonth(Base):
    """How long needs waited, as a histogram: the number of needs claimed (``claim``) or
    confirmed (``confirm``) in a month whose wait since publication fell in a bucket
    (upper bound in hours). Medians and 90th percentiles are read from it."""

    __tablename__ = "report_duration_months"
    __table_args__ = (
        Index("ix_report_duration_months_area", "district_code", "month"),
        Index("ix_report_duration_months_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    district_code: Mapped[str] = mapped_column(String(6))
    measure: Mapped[str] = mapped_column(String(8))
    bucket_hours: Mapped[int]
    count: Mapped[int]


class ValueMonth(Base):
    """What was given per month and district: ``cash`` (fen), ``in_kind`` (yuan),
    ``minutes`` (volunteer time) and ``claims`` (confirmed claims), by organisation
    (none for individual donors)."""

    __tablename__ = "report_value_months"
    __table_args__ = (Index("ix_report_value_months_area", "district_code", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    district_code: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(8))
    organisation_id: Mapped[int | None]
    amount: Mapped[int] = mapped_column(BigInteger)


class LightCount(Base):
    """Needs per district and traffic light, as of the last refresh."""

    __tablename__ = "report_light_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    light: Mapped[str] = mapped_column(String(8))
    count: Mapped[int]


class PublicMonth(Base):
    """The public transparency figures per month and area (a district, a city, or the
    province), with distinct households counted at that level so that small cells can be
    suppressed exactly."""

    __tablename__ = "report_public_months"
    __table_args__ = (Index("ix_report_public_months_area", "level", "area_code", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    level: Mapped[str] = mapped_column(String(8))  # district | city | province
    area_code: Mapped[str] = mapped_column(String(6))
    fulfilled: Mapped[int] = mapped_column(default=0)
    households: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    goods_yuan: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupRefresh(Base):
    """One refresh of the rollups: when, for which districts (empty: all)."""

    __tablename__ = "report_refreshes"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seconds: Mapped[float] = mapped_column(default=0.0)


class ExportLog(Base):
    """Every export: who took which ledger, of which area and period, when, how many rows,
    and whether it carried personal columns. Supervisors read it."""

    __tablename__ = "export_logs"
    __table_args__ = (Index("ix_export_logs_area_time", "area_code", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ledger: Mapped[str] = mapped_column(String(20))
    file_format: Mapped[str] = mapped_column(String(4))
    area_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(20), default="")
    personal: Mapped[bool] = mapped_column(default=False)
    rows: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class ImportBatch(Base):
    """An uploaded workbook, its dry-run findings and, once imported, the outcome. The
    file is kept until it is imported so that "import" commits exactly what was checked."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # households | needs | donations
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    total_rows: Mapped[int] = mapped_column(default=0)
    # {"<row number>": {"<column header>": ["message", ...]}} as JSON text.
    errors_json: Mapped[str] = mapped_column(Text, default="{}")
    error_count: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ImportRecord(Base):
    """What an external reference became: importing the same reference again (in the
    same district, or for the same company) creates nothing."""

    __tablename__ = "import_records"
    __table_args__ = (UniqueConstraint("kind", "scope", "external_ref", name="uq_import_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    scope: Mapped[str] = mapped_column(String(12))  # a district code, or "org:<id>"
    external_ref: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int]
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"))
