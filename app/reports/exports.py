"""The ledgers a district keeps (台账), as Excel (.xlsx) or CSV.

Headers and values are Chinese, times are Beijing times, the header row is frozen and
filtered and columns have widths. Rows are read from the database in batches and written
as they come: CSV streams to the browser; Excel is written by openpyxl's write-only mode
into a temporary file, so neither holds all rows in memory.

Personal columns of households (name, ID number, phone, address, need score, notes) are
written only for the owning district's staff; supervisors of a city or the province get
the ledger without them. Every export is logged (:class:`ExportLog`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, aliased

from app.accounts.models import Organisation, Role, User
from app.claims.models import Claim
from app.core.csvsafe import csv_lines, neutralise
from app.donations.models import Donation
from app.errors import NotAllowed, ValidationFailed
from app.extensions import db
from app.labels import label
from app.models_base import CHINA
from app.needs.models import Household, Need, NeedState
from app.places import gazetteer
from app.points.models import PointsEntry
from app.reports import services
from app.reports.models import ExportLog
from app.shifts.models import Shift, ShiftSignup

BATCH = 1000
FORMATS = ("xlsx", "csv")
OPEN_STATES = (NeedState.DRAFT, NeedState.SUBMITTED, NeedState.PUBLISHED, NeedState.CLAIMED)


@dataclass(frozen=True)
class Column:
    header: Any  # lazy string, rendered in Chinese
    width: int
    personal: bool = False
    kind: str = "text"  # text | int | money | datetime | date


@dataclass(frozen=True)
class Ledger:
    name: str
    title: Any
    columns: tuple[Column, ...]
    query: Callable[[list[str] | None, services.Period], Select[Any]]
    row: Callable[[Any, bool], Sequence[Any]]


def _where_area(query: Any, column: Any, districts: list[str] | None) -> Select[Any]:
    return query.where(column.in_(districts)) if districts is not None else query


def _in_period(query: Any, column: Any, period: services.Period) -> Any:
    return query.where(column >= period.start_utc, column < period.end_utc)


def _local(value: datetime | None) -> datetime | None:
    """Beijing wall-clock time without a zone (spreadsheets know no zones)."""
    return value.astimezone(CHINA).replace(tzinfo=None) if value is not None else None


def _place(code: str | None) -> str:
    place = gazetteer.get(code or "")
    if place is None:
        return code or ""
    if place.level == "district":
        return f"{gazetteer.city_of(place.code).name_zh}{place.name_zh}"
    return place.name_zh


# --- the ledgers ---------------------------------------------------------------------------


def _households_query(districts: list[str] | None, period: services.Period) -> Select[Any]:
    needs = (
        select(
            Need.household_id.label("household_id"),
            func.count().label("needs"),
            func.sum(case((Need.state.in_(OPEN_STATES), 1), else_=0)).label("open_needs"),
        )
        .group_by(Need.household_id)
        .subquery()
    )
    query = select(Household, needs.c.needs, needs.c.open_needs).outerjoin(
        needs, needs.c.household_id == Household.id
    )
    query = _in_period(query, Household.created_at, period)
    return _where_area(query, Household.district_code, districts).order_by(Household.id)


def _household_row(record: Any, personal: bool) -> Sequence[Any]:
    household, needs, open_needs = record
    row: list[Any] = [
        household.id,
        _place(household.district_code),
        label(household.group),
        _local(household.created_at),
        int(needs or 0),
        int(open_needs or 0),
    ]
    if personal:
        row += [
            household.name,
            household.id_number,
            household.phone,
            household.address,
            household.need_score,
            household.notes,
        ]
    return row


def _needs_query(districts: list[str] | None, period: services.Period) -> Select[Any]:
    query = select(Need, Household.group).join(Household, Household.id == Need.household_id)
    query = _in_period(query, Need.created_at, period)
    return _where_area(query, Need.district_code, districts).order_by(Need.id)


def _need_row(record: Any, personal: bool) -> Sequence[Any]:
    need, group = record
    return [
        need.id,
        need.household_id,
        need.title,
        label(need.kind),
        label(need.category),
        label(group),
        _place(need.district_code),
        label(need.state),
        label(need.light) if need.light.value != "none" else "",
        label(need.urgency),
        _local(need.created_at),
        _local(need.published_at),
        need.deadline,
        need.estimated_value_yuan or need.estimated_cost_yuan,
    ]


def _claims_query(districts: list[str] | None, period: services.Period) -> Select[Any]:
    query = (
        select(Claim, Need.title, Need.district_code, Organisation.name)
        .join(Need, Need.id == Claim.need_id)
        .outerjoin(Organisation, Organisation.id == Claim.organisation_id)
    )
    query = _in_period(query, Claim.created_at, period)
    return _where_area(query, Need.district_code, districts).order_by(Claim.id)


def _claim_row(record: Any, personal: bool) -> Sequence[Any]:
    claim, title, district, org_name = record
    return [
        claim.id,
        claim.need_id,
        title,
        _place(district),
        org_name or str(_l("Individual donor")),
        label(claim.method),
        label(claim.status),
        _local(claim.created_at),
        _local(claim.due_at),
        _local(claim.delivered_at),
        _local(claim.confirmed_at),
    ]


def _donations_query(districts: list[str] | None, period: services.Period) -> Select[Any]:
    query = select(Donation, Organisation.name).join(
        Organisation, Organisation.id == Donation.organisation_id
    )
    query = _in_period(query, Donation.created_at, period)
    return _where_area(query, Donation.district_code, districts).order_by(Donation.id)


def _donation_row(record: Any, personal: bool) -> Sequence[Any]:
    donation, org_name = record
    return [
        donation.id,
        org_name,
        donation.item,
        donation.quantity,
        donation.value_yuan,
        _place(donation.district_code),
        donation.need_id,
        label(donation.status),
        donation.external_ref or "",
        _local(donation.created_at),
        _local(donation.received_at),
    ]


def _hours_query(districts: list[str] | None, period: services.Period) -> Select[Any]:
    query = (
        select(ShiftSignup, Shift.day, Need.id, Need.title, Need.district_code, Organisation.name)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .join(Need, Need.id == Shift.need_id)
        .join(Organisation, Organisation.id == ShiftSignup.organisation_id)
        .where(ShiftSignup.confirmed_at.is_not(None))
    )
    query = _in_period(query, ShiftSignup.confirmed_at, period)
    return _where_area(query, Need.district_code, districts).order_by(ShiftSignup.id)


def _hours_row(record: Any, personal: bool) -> Sequence[Any]:
    signup, day, need_id, title, district, org_name = record
    return [
        signup.id,
        day,
        need_id,
        title,
        _place(district),
        org_name,
        round((signup.minutes_worked or 0) / 60, 2),
        _local(signup.confirmed_at),
    ]


def _points_query(districts: list[str] | None, period: services.Period) -> Select[Any]:
    org = aliased(Organisation)
    query = select(PointsEntry, org.name).outerjoin(org, org.id == PointsEntry.owner_org_id)
    query = _in_period(query, PointsEntry.created_at, period)
    return _where_area(query, PointsEntry.district_code, districts).order_by(PointsEntry.id)


def _points_row(record: Any, personal: bool) -> Sequence[Any]:
    entry, org_name = record
    return [
        entry.id,
        _local(entry.created_at),
        org_name or str(_l("Individual donor")),
        entry.amount,
        label(entry.kind),
        entry.rule,
        entry.reason,
        _place(entry.district_code),
        entry.need_id,
    ]


def _c(header: Any, width: int = 14, kind: str = "text", personal: bool = False) -> Column:
    return Column(header, width, personal, kind)


LEDGERS: dict[str, Ledger] = {
    "households": Ledger(
        "households",
        _l("Households"),
        (
            _c(_l("Household no."), 10, "int"),
            _c(_l("District"), 18),
            _c(_l("Person group"), 16),
            _c(_l("Recorded at"), 18, "datetime"),
            _c(_l("Needs"), 8, "int"),
            _c(_l("Open needs"), 10, "int"),
            _c(_l("Name"), 12, personal=True),
            _c(_l("Resident ID number"), 22, personal=True),
            _c(_l("Phone"), 14, personal=True),
            _c(_l("Address"), 30, personal=True),
            _c(_l("Need score"), 10, "int", personal=True),
            _c(_l("Notes"), 30, personal=True),
        ),
        _households_query,
        _household_row,
    ),
    "needs": Ledger(
        "needs",
        _l("Needs"),
        (
            _c(_l("Need no."), 10, "int"),
            _c(_l("Household no."), 10, "int"),
            _c(_l("Title"), 30),
            _c(_l("Kind"), 10),
            _c(_l("Care category"), 10),
            _c(_l("Person group"), 16),
            _c(_l("District"), 18),
            _c(_l("State"), 10),
            _c(_l("Light"), 8),
            _c(_l("Urgency"), 8),
            _c(_l("Recorded at"), 18, "datetime"),
            _c(_l("Published at"), 18, "datetime"),
            _c(_l("Deadline"), 12, "date"),
            _c(_l("Estimated value (yuan)"), 12, "int"),
        ),
        _needs_query,
        _need_row,
    ),
    "claims": Ledger(
        "claims",
        _l("Claims"),
        (
            _c(_l("Claim no."), 10, "int"),
            _c(_l("Need no."), 10, "int"),
            _c(_l("Need"), 30),
            _c(_l("District"), 18),
            _c(_l("Claimed by"), 20),
            _c(_l("Delivery"), 10),
            _c(_l("State"), 10),
            _c(_l("Claimed at"), 18, "datetime"),
            _c(_l("Due"), 18, "datetime"),
            _c(_l("Delivered at"), 18, "datetime"),
            _c(_l("Confirmed at"), 18, "datetime"),
        ),
        _claims_query,
        _claim_row,
    ),
    "donations": Ledger(
        "donations",
        _l("Donations in kind"),
        (
            _c(_l("Donation no."), 10, "int"),
            _c(_l("Company"), 20),
            _c(_l("Item"), 20),
            _c(_l("Quantity"), 8, "int"),
            _c(_l("Value (yuan)"), 10, "int"),
            _c(_l("District"), 18),
            _c(_l("Need no."), 10, "int"),
            _c(_l("State"), 10),
            _c(_l("Company reference"), 16),
            _c(_l("Logged at"), 18, "datetime"),
            _c(_l("Received at"), 18, "datetime"),
        ),
        _donations_query,
        _donation_row,
    ),
    "hours": Ledger(
        "hours",
        _l("Volunteer hours"),
        (
            _c(_l("Record no."), 10, "int"),
            _c(_l("Day"), 12, "date"),
            _c(_l("Need no."), 10, "int"),
            _c(_l("Need"), 30),
            _c(_l("District"), 18),
            _c(_l("Team"), 20),
            _c(_l("Hours"), 8, "money"),
            _c(_l("Confirmed at"), 18, "datetime"),
        ),
        _hours_query,
        _hours_row,
    ),
    "points": Ledger(
        "points",
        _l("Points"),
        (
            _c(_l("Entry no."), 10, "int"),
            _c(_l("Time"), 18, "datetime"),
            _c(_l("Owner"), 20),
            _c(_l("Points"), 8, "int"),
            _c(_l("Kind"), 8),
            _c(_l("Rule"), 14),
            _c(_l("Reason"), 30),
            _c(_l("District"), 18),
            _c(_l("Need no."), 10, "int"),
        ),
        _points_query,
        _points_row,
    ),
}


def ledger_choices() -> list[tuple[str, str]]:
    return [(name, str(ledger.title)) for name, ledger in LEDGERS.items()]


# --- permission and the log ---------------------------------------------------------------


def may_see_personal(user: User, area_code: str) -> bool:
    """Personal columns go to the owning district's own staff only."""
    own = gazetteer.get(user.area_code or "")
    return (
        user.has_role(Role.CASEWORKER, Role.VERIFIER)
        and own is not None
        and own.level == "district"
        and gazetteer.covers(own.code, area_code)
    )


@dataclass
class ExportJob:
    ledger: Ledger
    area: gazetteer.Place
    period: services.Period
    personal: bool
    log: ExportLog

    @property
    def columns(self) -> list[Column]:
        return [c for c in self.ledger.columns if self.personal or not c.personal]

    def headers(self) -> list[str]:
        with force_locale("zh"):
            return [str(c.header) for c in self.columns]

    @property
    def filename(self) -> str:
        return f"{self.ledger.name}-{self.area.code}-{self.period.key}"

    def rows(self, session: Session) -> Iterator[Sequence[Any]]:
        """The rows in batches from the database, never all at once."""
        query = self.ledger.query(services.districts_of(self.area.code), self.period)
        result = session.execute(query.execution_options(yield_per=BATCH))
        with force_locale("zh"):
            for record in result:
                yield self.ledger.row(record, self.personal)


def start_export(
    session: Session,
    user: User,
    ledger_name: str,
    file_format: str,
    area_code: str | None,
    period: str | None,
) -> ExportJob:
    """Check the request, log it, and return the job that writes the file."""
    if ledger_name not in LEDGERS or file_format not in FORMATS:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"ledger": [str(_l("Choose a ledger and a format."))]},
        )
    area = services.resolve_area(user, area_code)
    if ledger_name == "households" and not user.has_role(Role.CASEWORKER, Role.VERIFIER):
        raise NotAllowed(_l("Only caseworkers and supervisors export households."))
    parsed = services.parse_period(period)
    ledger = LEDGERS[ledger_name]
    personal = ledger_name == "households" and may_see_personal(user, area.code)
    query = ledger.query(services.districts_of(area.code), parsed)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    log = ExportLog(
        user_id=user.id,
        ledger=ledger_name,
        file_format=file_format,
        area_code=area.code,
        period=parsed.key,
        personal=personal,
        rows=int(count or 0),
    )
    session.add(log)
    session.flush()
    return ExportJob(ledger, area, parsed, personal, log)


def export_log(session: Session, user: User, limit: int = 200) -> list[ExportLog]:
    """The exports taken in a supervisor's area, newest first."""
    if not user.has_role(Role.VERIFIER, Role.ADMIN):
        raise NotAllowed(_l("Only supervisors see the export log."))
    query = select(ExportLog).order_by(ExportLog.id.desc()).limit(limit)
    districts = services.districts_of(services.home_area(user))
    if districts is not None:
        area = services.home_area(user)
        codes = {area, *districts}
        query = query.where(ExportLog.area_code.in_(sorted(codes)))
    return list(session.scalars(query))


# --- writers --------------------------------------------------------------------------------


def csv_stream(app: Flask, job: ExportJob) -> Iterator[str]:
    """The CSV file, produced while it is sent: the rows are read in their own app context
    (and session), after the request that logged the export has ended."""
    headers = job.headers()

    def rows() -> Iterator[Sequence[Any]]:
        with app.app_context():
            try:
                yield from job.rows(db.session)
            finally:
                db.remove()

    return csv_lines(headers, rows())


HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="FDE8E4")
FORMATS_BY_KIND = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "money": "0.00"}


def write_xlsx(session: Session, job: ExportJob, target: IO[bytes]) -> None:
    """The ledger as a workbook: frozen, filtered, Chinese header row; column widths; local
    times; every text cell neutralised like the CSV."""
    workbook = Workbook(write_only=True)
    with force_locale("zh"):
        sheet = workbook.create_sheet(str(job.ledger.title))
    columns = job.columns
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    header = []
    for text in job.headers():
        cell = WriteOnlyCell(sheet, value=neutralise(text))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in job.rows(session):
        cells = []
        for column, value in zip(columns, row, strict=True):
            cell = WriteOnlyCell(sheet, value=neutralise(value))
            if column.kind in FORMATS_BY_KIND and value is not None:
                cell.number_format = FORMATS_BY_KIND[column.kind]
            cells.append(cell)
        sheet.append(cells)
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    workbook.save(target)


def xlsx_file(session: Session, job: ExportJob) -> IO[bytes]:
    """The workbook in a temporary file (deleted when closed), positioned at its start."""
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes it
    write_xlsx(session, job, target)
    target.seek(0)
    return target


def file_chunks(source: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """A file sent in pieces, closed (and so deleted) once sent or abandoned."""
    try:
        while chunk := source.read(size):
            yield chunk
    finally:
        source.close()


def today_stamp() -> str:
    return datetime.now(UTC).astimezone(CHINA).strftime("%Y%m%d")
