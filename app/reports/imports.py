"""Excel imports: households and needs (caseworkers), in-kind donation lists (companies).

One importer for all three. An upload is first a dry run: every row is parsed (Chinese
headers, district names or codes, dates, Chinese enum labels) and then put through the
same services that the forms use (ID checksum, phone, area, public-text checks...), inside
a savepoint that is rolled back. The findings are kept per row and column, shown in the
user's language and written into an annotated copy of the workbook. "Import" replays the
same file for real: all rows or none, and a row whose external reference was imported
before (same district, or same company) is skipped, so importing twice adds nothing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.errors import DomainError, NotAllowed, ValidationFailed
from app.labels import label
from app.models_base import utcnow
from app.needs import services as needs
from app.needs.models import (
    CareCategory,
    Household,
    NeedKind,
    PersonGroup,
    RepairCategory,
    Urgency,
)
from app.places import gazetteer
from app.reports.models import ImportBatch, ImportRecord

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
KINDS = ("households", "needs", "donations")


@dataclass(frozen=True)
class Field:
    key: str
    header: str  # the Chinese header in the template (also accepted: the key itself)
    width: int = 14
    required: bool = False
    parse: str = "text"  # text | int | date | district | enum
    enum: Any = None
    example: Any = ""


def _f(key: str, header: str, width: int = 14, **kw: Any) -> Field:
    return Field(key, header, width, **kw)


FIELDS: dict[str, tuple[Field, ...]] = {
    "households": (
        _f("external_ref", "外部编号", 14, required=True, example="TH-2026-001"),
        _f("name", "姓名", 10, required=True, example="（姓名）"),
        _f("id_number", "身份证号", 22, required=True, example="440106195001010010"),
        _f("phone", "联系电话", 14, required=True, example="13800138000"),
        _f("address", "居住地址", 30, required=True, example="（详细地址）"),
        _f("district", "区县", 14, required=True, parse="district", example="天河区"),
        _f(
            "group",
            "人群类别",
            16,
            required=True,
            parse="enum",
            enum=PersonGroup,
            example="困难老人",
        ),
        _f("need_score", "需求评分", 10, parse="int", example=1),
        _f("notes", "备注", 30),
    ),
    "needs": (
        _f("external_ref", "外部编号", 14, required=True, example="XY-2026-001"),
        _f("household_ref", "户外部编号", 14, example="TH-2026-001"),
        _f("household_id", "户编号", 10, parse="int"),
        _f("kind", "需求类型", 10, required=True, parse="enum", enum=NeedKind, example="微心愿"),
        _f("title", "标题", 24, required=True, example="一个新书包"),
        _f(
            "story",
            "情况说明",
            40,
            required=True,
            example="孩子升入初中，旧书包已经破损，希望有一个结实的新书包。",
        ),
        _f(
            "category",
            "关怀类别",
            10,
            required=True,
            parse="enum",
            enum=CareCategory,
            example="教育助学",
        ),
        _f("urgency", "紧急程度", 8, parse="enum", enum=Urgency, example="一般"),
        _f("deadline", "截止日期", 12, parse="date"),
        _f("item", "物品", 14, example="书包"),
        _f("quantity", "数量", 8, parse="int", example=1),
        _f("estimated_value_yuan", "估值（元）", 10, parse="int", example=150),
        _f("task", "任务", 14),
        _f("window_start", "开始日期", 12, parse="date"),
        _f("window_end", "结束日期", 12, parse="date"),
        _f("volunteers_needed", "需要人数", 8, parse="int"),
        _f("hours_per_volunteer", "每人小时", 8, parse="int"),
        _f("repair_category", "维修类别", 10, parse="enum", enum=RepairCategory),
        _f("estimated_cost_yuan", "预算（元）", 10, parse="int"),
    ),
    "donations": (
        _f("external_ref", "外部编号", 14, required=True, example="JZ-2026-001"),
        _f("item", "物品", 20, required=True, example="大米（10公斤）"),
        _f("quantity", "数量", 8, required=True, parse="int", example=20),
        _f("value_yuan", "价值（元）", 10, required=True, parse="int", example=1200),
        _f("need_id", "需求编号", 10, parse="int"),
        _f("district", "区县", 14, parse="district", example="天河区"),
        _f("note", "备注", 30),
    ),
}
TITLES = {
    "households": _l("Households"),
    "needs": _l("Needs"),
    "donations": _l("Donations in kind"),
}
ROW_COLUMN = "_row"  # errors about the row as a whole


def may_import(user: User, kind: str) -> bool:
    if kind in ("households", "needs"):
        return user.is_authenticated and user.has_role(Role.CASEWORKER)
    return kind == "donations" and user.is_authenticated and user.has_role(Role.COMPANY)


def _check_kind(user: User, kind: str) -> None:
    if kind not in KINDS:
        raise ValidationFailed(_l("Unknown import."), {"kind": [str(_l("Unknown import."))]})
    if not may_import(user, kind):
        raise NotAllowed(_l("You cannot import this list."))


# --- templates ----------------------------------------------------------------------------


HEADER_FILL = PatternFill("solid", fgColor="FDE8E4")
ERROR_FILL = PatternFill("solid", fgColor="FED7D7")


def template(kind: str) -> bytes:
    """An empty workbook with the Chinese headers, one example row and a sheet of the
    accepted values."""
    fields = FIELDS[kind]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "导入"
    sheet.append([f.header for f in fields])
    for index, f in enumerate(fields, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
        sheet.column_dimensions[get_column_letter(index)].width = f.width
        if f.required:
            cell.comment = Comment("必填", "善联")
    sheet.freeze_panes = "A2"
    values = workbook.create_sheet("可选值")
    values.append(["列", "可填写的值"])
    with force_locale("zh"):
        for f in fields:
            if f.enum is not None:
                values.append([f.header, "、".join(label(m) for m in f.enum)])
        values.append(
            ["区县", "区县名称（如 天河区、广州市天河区）或六位行政区划代码（如 440106）"]
        )
        values.append(["日期", "2026-03-01 或 Excel 日期"])
    values.column_dimensions["A"].width = 14
    values.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- parsing --------------------------------------------------------------------------------


def _enum_lookup(enum_cls: Any) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for member in enum_cls:
        table[member.value.lower()] = member
        for locale in ("zh", "en"):
            with force_locale(locale):
                table[label(member).strip().lower()] = member
    return table


def _district_lookup() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for district in gazetteer.districts():
        city = gazetteer.city_of(district.code)
        for name in {
            district.code,
            district.name_zh,
            district.name_en.lower(),
            f"{city.name_zh}{district.name_zh}",
            f"{city.name_zh} {district.name_zh}",
        }:
            codes = table.setdefault(name, [])
            if district.code not in codes:
                codes.append(district.code)
    return table


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse(f: Field, raw: Any, lookups: dict[str, Any]) -> tuple[Any, str | None]:
    """The value of one cell, or an error message."""
    text = _text(raw)
    if not text:
        if f.required:
            return None, str(_l("This field is required."))
        return None, None
    if f.parse == "int":
        if isinstance(raw, int | float) and float(raw).is_integer():
            return int(raw), None
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= 9:
            return int(text), None
        return None, str(_l("Enter a whole number."))
    if f.parse == "date":
        if isinstance(raw, datetime):
            return raw.date(), None
        if isinstance(raw, date):
            return raw, None
        try:
            return date.fromisoformat(text.replace("/", "-").replace(".", "-")), None
        except ValueError:
            return None, str(_l("Enter a date such as 2026-03-01."))
    if f.parse == "district":
        codes = lookups["district"].get(text) or lookups["district"].get(text.lower()) or []
        if len(codes) == 1:
            return codes[0], None
        if len(codes) > 1:
            return None, str(_l("Several districts have this name; add the city or use the code."))
        return None, str(_l("No district in Guangdong has this name or code."))
    if f.parse == "enum":
        assert f.enum is not None
        member = lookups[f.key].get(text.lower())
        if member is None:
            options = "、".join(label(m) for m in f.enum)  # type: ignore[attr-defined]
            return None, str(_l("Choose one of: %(names)s.", names=options))
        return member, None
    if len(text) > 2000:
        return None, str(_l("At most %(n)s characters.", n=2000))
    return text, None


@dataclass
class Sheet:
    fields: tuple[Field, ...]
    columns: dict[str, int]  # field key -> 1-based column in the file
    headers: dict[str, str]  # field key -> header as written in the file
    rows: list[tuple[int, dict[str, Any]]]  # (row number in the file, raw values)


def read_workbook(kind: str, content: bytes) -> Sheet:
    """The rows of the first sheet, keyed by field; refuses files that are not a workbook
    or lack required columns."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise ValidationFailed(
            _l("This is not an Excel workbook (.xlsx)."),
            {"file": [str(_l("This is not an Excel workbook (.xlsx)."))]},
        ) from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header_row = next(rows, None) or ()
    fields = FIELDS[kind]
    by_header: dict[str, Field] = {}
    for f in fields:
        by_header[f.header] = f
        by_header[f.key] = f
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    for index, value in enumerate(header_row, start=1):
        found = by_header.get(_text(value))
        if found is not None and found.key not in columns:
            columns[found.key], headers[found.key] = index, _text(value)
    missing = [f.header for f in fields if f.required and f.key not in columns]
    if missing:
        message = _l("The workbook needs the columns: %(columns)s.", columns="、".join(missing))
        raise ValidationFailed(message, {"file": [str(message)]})
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, row in enumerate(rows, start=2):
        values = {
            key: row[index - 1] if index - 1 < len(row) else None for key, index in columns.items()
        }
        if all(_text(v) == "" for v in values.values()):
            continue
        parsed.append((number, values))
        if len(parsed) > MAX_ROWS:
            message = _l("At most %(n)s rows per workbook.", n=MAX_ROWS)
            raise ValidationFailed(message, {"file": [str(message)]})
    workbook.close()
    if not parsed:
        message = _l("The workbook has no rows to import.")
        raise ValidationFailed(message, {"file": [str(message)]})
    return Sheet(fields, columns, headers, parsed)


# --- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    total: int = 0
    created: int = 0
    skipped: int = 0
    districts: set[str] = field(default_factory=set)
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)

    def add(self, row: int, column: str, message: str) -> None:
        self.errors.setdefault(row, {}).setdefault(column, []).append(message)

    @property
    def error_count(self) -> int:
        return sum(len(m) for cols in self.errors.values() for m in cols.values())


# Field names the services report, mapped to import columns.
SERVICE_FIELDS = {
    "district_code": "district",
    "window_start": "window_start",
    "lat": ROW_COLUMN,
    "kind": "kind",
}


def _record(session: Session, kind: str, scope: str, ref: str) -> ImportRecord | None:
    return session.scalar(
        select(ImportRecord).where(
            ImportRecord.kind == kind, ImportRecord.scope == scope, ImportRecord.external_ref == ref
        )
    )


def _household_row(
    session: Session, actor: User, values: dict[str, Any], batch: ImportBatch, outcome: Outcome
) -> bool | None:
    """Create one household; True created, False skipped (imported before)."""
    district = values["district"]
    if _record(session, "households", district, values["external_ref"]) is not None:
        return False
    household = needs.create_household(
        session,
        actor,
        needs.HouseholdData(
            name=values["name"],
            id_number=values["id_number"],
            phone=values["phone"],
            address=values["address"],
            district_code=district,
            group=values["group"],
            need_score=values.get("need_score") or 0,
            notes=values.get("notes") or "",
        ),
    )
    session.add(
        ImportRecord(
            kind="households",
            scope=district,
            external_ref=values["external_ref"],
            object_id=household.id,
            batch_id=batch.id,
        )
    )
    outcome.districts.add(district)
    return True


def _find_household(session: Session, actor: User, values: dict[str, Any]) -> Household:
    if values.get("household_id"):
        household = session.get(Household, values["household_id"])
        if household is None or not household.can_edit(actor):
            raise ValidationFailed(
                "", {"household_id": [str(_l("No household in your area has this number."))]}
            )
        return household
    ref = values.get("household_ref")
    if not ref:
        raise ValidationFailed(
            "", {"household_ref": [str(_l("Give the household's external reference or number."))]}
        )
    records = session.scalars(
        select(ImportRecord).where(
            ImportRecord.kind == "households", ImportRecord.external_ref == ref
        )
    ).all()
    households = [session.get(Household, r.object_id) for r in records]
    mine = [h for h in households if h is not None and h.can_edit(actor)]
    if len(mine) != 1:
        raise ValidationFailed(
            "", {"household_ref": [str(_l("No household in your area has this reference."))]}
        )
    return mine[0]


def _need_row(
    session: Session, actor: User, values: dict[str, Any], batch: ImportBatch, outcome: Outcome
) -> bool | None:
    household = _find_household(session, actor, values)
    if _record(session, "needs", household.district_code, values["external_ref"]) is not None:
        return False
    need = needs.create_need(
        session,
        actor,
        household,
        needs.NeedData(
            kind=values["kind"],
            title=values["title"],
            story=values["story"],
            category=values["category"],
            urgency=values.get("urgency") or Urgency.NORMAL,
            deadline=values.get("deadline"),
            item=values.get("item") or "",
            quantity=values.get("quantity"),
            estimated_value_yuan=values.get("estimated_value_yuan"),
            task=values.get("task") or "",
            window_start=values.get("window_start"),
            window_end=values.get("window_end"),
            volunteers_needed=values.get("volunteers_needed"),
            hours_per_volunteer=values.get("hours_per_volunteer"),
            repair_category=values.get("repair_category"),
            estimated_cost_yuan=values.get("estimated_cost_yuan"),
        ),
    )
    session.add(
        ImportRecord(
            kind="needs",
            scope=household.district_code,
            external_ref=values["external_ref"],
            object_id=need.id,
            batch_id=batch.id,
        )
    )
    outcome.districts.add(household.district_code)
    return True


def _donation_row(
    session: Session, actor: User, values: dict[str, Any], batch: ImportBatch, outcome: Outcome
) -> bool | None:
    from app.donations import services as donations

    logged = donations.log_donation(
        session,
        actor,
        donations.DonationData(
            item=values["item"],
            quantity=values["quantity"],
            value_yuan=values["value_yuan"],
            need_id=values.get("need_id"),
            district_code=values.get("district") or "",
            note=values.get("note") or "",
            external_ref=values["external_ref"],
        ),
    )
    if logged.created:
        outcome.districts.add(logged.donation.district_code)
    return logged.created


RUNNERS: dict[str, Callable[..., bool | None]] = {
    "households": _household_row,
    "needs": _need_row,
    "donations": _donation_row,
}


def run(session: Session, actor: User, batch: ImportBatch, *, commit: bool) -> Outcome:
    """Check (``commit=False``) or import the batch's workbook. Everything happens in a
    savepoint; it is kept only when importing and no row failed."""
    assert batch.content is not None
    sheet = read_workbook(batch.kind, batch.content)
    lookups: dict[str, Any] = {"district": _district_lookup()}
    for f in sheet.fields:
        if f.enum is not None:
            lookups[f.key] = _enum_lookup(f.enum)
    outcome = Outcome(total=len(sheet.rows))
    seen: dict[str, int] = {}
    runner = RUNNERS[batch.kind]
    savepoint = session.begin_nested()
    try:
        for number, raw in sheet.rows:
            values: dict[str, Any] = {}
            for f in sheet.fields:
                if f.key not in sheet.columns:
                    continue
                value, problem = _parse(f, raw.get(f.key), lookups)
                if problem:
                    outcome.add(number, f.key, problem)
                values[f.key] = value
            ref = values.get("external_ref")
            if ref and ref in seen:
                outcome.add(
                    number,
                    "external_ref",
                    str(_l("The same reference is on row %(row)s.", row=seen[ref])),
                )
            elif ref:
                seen[ref] = number
            if number in outcome.errors:
                continue
            try:
                with session.begin_nested():
                    result = runner(session, actor, values, batch, outcome)
            except DomainError as error:
                if not error.errors:
                    outcome.add(number, ROW_COLUMN, str(error.message))
                for name, messages in error.errors.items():
                    column = SERVICE_FIELDS.get(name, name)
                    if column not in sheet.columns and column != ROW_COLUMN:
                        column = ROW_COLUMN
                    for message in messages:
                        outcome.add(number, column, message)
                continue
            if result:
                outcome.created += 1
            else:
                outcome.skipped += 1
    except BaseException:
        savepoint.rollback()
        raise
    if commit and not outcome.errors:
        savepoint.commit()
    else:
        savepoint.rollback()
        if commit:
            outcome.created = outcome.skipped = 0
    batch.total_rows = outcome.total
    batch.errors_json = json.dumps(
        {str(k): v for k, v in outcome.errors.items()}, ensure_ascii=False
    )
    batch.error_count = outcome.error_count
    if commit and not outcome.errors:
        batch.created, batch.skipped = outcome.created, outcome.skipped
        batch.imported_at = utcnow()
        batch.content = None  # the file is no longer needed once imported
    session.flush()
    return outcome


def upload(session: Session, actor: User, kind: str, filename: str, content: bytes) -> ImportBatch:
    """Store the workbook and dry-run it."""
    _check_kind(actor, kind)
    if len(content) > MAX_BYTES:
        message = _l("The file is larger than %(mb)s MB.", mb=MAX_BYTES // (1024 * 1024))
        raise ValidationFailed(message, {"file": [str(message)]})
    batch = ImportBatch(kind=kind, user_id=actor.id, filename=filename[:200], content=content)
    read_workbook(kind, content)  # a file that is not a usable workbook is refused outright
    session.add(batch)
    session.flush()
    run(session, actor, batch, commit=False)
    return batch


def commit_batch(session: Session, actor: User, batch: ImportBatch) -> Outcome:
    """Import a checked batch, all or nothing; refresh the report figures it touches."""
    if batch.user_id != actor.id:
        raise NotAllowed(_l("You cannot import this list."))
    _check_kind(actor, batch.kind)
    if batch.imported_at is not None or batch.content is None:
        raise ValidationFailed(
            _l("This workbook was imported already."),
            {"file": [str(_l("This workbook was imported already."))]},
        )
    outcome = run(session, actor, batch, commit=True)
    if not outcome.errors and outcome.districts:
        from app.reports import rollups

        rollups.refresh(session, outcome.districts)
    return outcome


def errors_of(batch: ImportBatch) -> dict[int, dict[str, list[str]]]:
    return {int(k): v for k, v in json.loads(batch.errors_json or "{}").items()}


def header_of(kind: str, key: str) -> str:
    if key == ROW_COLUMN:
        return str(_l("Row"))
    for f in FIELDS[kind]:
        if f.key == key:
            return f.header
    return key


def annotated(batch: ImportBatch) -> bytes:
    """The uploaded workbook with every faulty cell coloured and commented, and a last
    column listing the row's problems."""
    assert batch.content is not None
    workbook = load_workbook(io.BytesIO(batch.content))
    sheet = workbook.worksheets[0]
    columns = read_workbook(batch.kind, batch.content).columns
    extra = sheet.max_column + 1
    header = sheet.cell(row=1, column=extra, value=str(_l("Problems")))
    header.font, header.fill = Font(bold=True), ERROR_FILL
    sheet.column_dimensions[get_column_letter(extra)].width = 60
    for row, problems in errors_of(batch).items():
        lines = []
        for key, messages in problems.items():
            lines.append(f"{header_of(batch.kind, key)}: {'；'.join(messages)}")
            if key in columns:
                cell = sheet.cell(row=row, column=columns[key])
                cell.fill = ERROR_FILL
                cell.comment = Comment("\n".join(messages), "善联")
        sheet.cell(row=row, column=extra, value="\n".join(lines)).fill = ERROR_FILL
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
