"""Browser tests of reports: a caseworker imports households from the Excel template (two
bad rows refused, fixed, imported) and sees the dashboard change; the province's
supervisor exports the households ledger and it has no personal columns."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests import test_browser as shared
from tests.test_browser import CASEWORKER, DISTRICT, VERIFIER, expect, resident_id, sign_in
from tests.test_browser_claims import NewContext

browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser
CHARTS = (Path(__file__).resolve().parent.parent / "static/vendor/echarts/echarts.min.js").exists()
PERSONAL_HEADERS = {"姓名", "身份证号码", "联系电话", "地址", "需求评分", "备注"}


def _workbook(path: object):
    """A downloaded workbook (Playwright names the file without its extension)."""
    return load_workbook(io.BytesIO(Path(str(path)).read_bytes()))


def households_figure(page) -> int:
    return int(page.locator("#fig-households").inner_text().strip().replace(",", ""))


def test_caseworker_imports_households_and_the_dashboard_changes(
    new_context: NewContext, tmp_path: Path
) -> None:
    page = new_context(accept_downloads=True).new_page()
    sign_in(page, CASEWORKER)
    page.locator("header nav a[href='/reports/']").click()
    expect(page.locator("main h1")).to_contain_text("数据报表")
    # Other browser tests share this live server and add households without a rollup
    # refresh: bring the figures up to date first, so "before" is today's count.
    with page.expect_navigation():
        page.locator(".report-refresh button").click()
    before = households_figure(page)
    if CHARTS:  # drawn from /api/v1/reports/summary; the table beside it says the same
        expect(page.locator(".chart.chart-drawn").first).to_be_visible()
    expect(page.locator("#needs-table")).to_be_visible()

    page.locator("main a[href='/reports/imports']").click()
    with page.expect_download() as download:
        page.locator("#template-households").click()
    workbook = _workbook(download.value.path())
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:7] == [
        "外部编号",
        "姓名",
        "身份证号",
        "联系电话",
        "居住地址",
        "区县",
        "人群类别",
    ]

    run = secrets.token_hex(3)
    base = 500 + secrets.randbelow(400)
    rows = [
        [
            f"IMP-{run}-1",
            "导入户甲",
            resident_id(DISTRICT, "19480305", base),
            "13800138001",
            "天河区导入路1号",
            "天河区",
            "困难老人",
            1,
        ],
        [
            f"IMP-{run}-2",
            "导入户乙",
            resident_id(DISTRICT, "19520611", base + 1)[:17] + "0",
            "13800138002",
            "天河区导入路2号",
            "天河区",
            "困难老人",
            0,
        ],
        [
            f"IMP-{run}-3",
            "导入户丙",
            resident_id(DISTRICT, "19600101", base + 2),
            "13800138003",
            "天河区导入路3号",
            "火星区",
            "重病重残人员",
            2,
        ],
    ]
    if rows[1][2] == resident_id(DISTRICT, "19520611", base + 1):  # "0" happened to be right
        rows[1][2] = rows[1][2][:17] + "1"
    for row in rows:
        sheet.append(row)
    filled = tmp_path / "households.xlsx"
    workbook.save(filled)

    page.locator("#file-households").set_input_files(str(filled))
    with page.expect_navigation():
        page.locator("#import-households button[type=submit]").click()
    expect(page.locator("#dry-run-result")).to_contain_text("3")
    errors = page.locator("#import-errors tbody tr")
    assert sorted({errors.nth(i).get_attribute("data-row") for i in range(errors.count())}) == [
        "3",
        "4",
    ]
    expect(page.locator("#import-errors")).to_contain_text("身份证")
    expect(page.locator("#import-errors")).to_contain_text("区县")
    expect(page.locator("#import-button")).to_have_count(0)
    with page.expect_download() as annotated:
        page.locator("#annotated").click()
    marked = _workbook(annotated.value.path()).worksheets[0]
    assert marked.cell(row=3, column=3).comment is not None  # the bad ID
    assert marked.cell(row=4, column=6).comment is not None  # the unknown district
    assert marked.cell(row=2, column=3).comment is None

    sheet.cell(row=3, column=3, value=resident_id(DISTRICT, "19520611", base + 1))
    sheet.cell(row=4, column=6, value="广州市天河区")
    workbook.save(filled)
    page.goto("/reports/imports")
    page.locator("#file-households").set_input_files(str(filled))
    with page.expect_navigation():
        page.locator("#import-households button[type=submit]").click()
    expect(page.locator("#dry-run-result")).to_contain_text("3")
    with page.expect_navigation():
        page.locator("#import-button").click()
    expect(page.locator("#import-done")).to_contain_text("3")

    page.locator("header nav a[href='/reports/']").click()
    assert households_figure(page) == before + 3


def test_supervisor_export_has_no_personal_columns(new_context: NewContext) -> None:
    page = new_context(accept_downloads=True).new_page()
    sign_in(page, VERIFIER)  # the whole province: no district's own staff
    page.locator("header nav a[href='/reports/']").click()
    page.locator("main a[href^='/reports/exports']").first.click()
    with page.expect_download() as download:
        page.locator("#export-households-xlsx").click()
    sheet = _workbook(download.value.path()).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["户编号", "区县", "人群类别", "登记时间", "需求", "未完成需求"]
    assert not PERSONAL_HEADERS & set(rows[0])
    assert len(rows) > 1 and sheet.freeze_panes == "A2"
    text = " ".join(str(v) for row in rows for v in row)
    assert not re.search(r"\d{17}[\dX]", text), "an ID number in the supervisor's export"
    assert not re.search(r"1[3-9]\d{9}", text), "a phone number in the supervisor's export"

    page.goto("/reports/exports/log")
    expect(page.locator("#export-log tbody tr").first).to_contain_text("xlsx")
    expect(page.locator("#export-log tbody tr").first).to_contain_text("否")
