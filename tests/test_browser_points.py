"""Browser test of points: a company logs a donation, the caseworker confirms receiving
it, the company's balance and leaderboard rank change, and it redeems a reward."""

from __future__ import annotations

import re

import pytest

from tests import test_browser as shared
from tests.test_browser import CASEWORKER, expect, sign_in
from tests.test_browser_claims import NewContext, new_page

browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser
COMPANY = "company4@demo.example"


def balance(page) -> int:
    page.goto("/points")
    return int(page.locator("#balance").inner_text().replace(",", ""))


def month_rank(page, name: str) -> int | None:
    page.goto("/leaderboards?board=companies&period=month")
    rows = page.locator("#leaderboard tbody tr")
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        if cells.count() == 3 and cells.nth(1).inner_text().strip() == name:
            return int(cells.nth(0).inner_text())
    return None


def test_company_donation_confirmed_earns_points_and_redeems(new_context: NewContext) -> None:
    company = new_page(new_context)
    sign_in(company, COMPANY)
    company.goto("/organisation")
    name = company.locator("main h1").first.inner_text().strip()
    before_balance = balance(company)
    before_rank = month_rank(company, name)

    company.goto("/donations")
    form = company.locator("form:has(input[name=action][value=log])")
    form.locator("input[name='d-item']").fill("大米（浏览器测试）")
    form.locator("input[name='d-quantity']").fill("500")
    form.locator("input[name='d-value_yuan']").fill("1000000")
    form.locator("select[name='d-district_code']").select_option("440106")
    with company.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(company.locator("main table")).to_contain_text("大米（浏览器测试）")
    assert balance(company) == before_balance  # logged is not yet confirmed

    caseworker = new_page(new_context)
    sign_in(caseworker, CASEWORKER)
    caseworker.goto("/work/donations")
    pending, pool = caseworker.locator("main table").nth(0), caseworker.locator("main table").nth(1)
    row = pending.locator("tr", has_text="大米（浏览器测试）")
    with caseworker.expect_navigation():
        row.locator("button[type=submit]").first.click()  # received
    expect(pending.locator("tr", has_text="大米（浏览器测试）")).to_have_count(0)
    expect(pool).to_contain_text("大米（浏览器测试）")  # now in the district's resource pool

    after_balance = balance(company)
    assert after_balance == before_balance + 100_000  # 1 point per 10 yuan
    after_rank = month_rank(company, name)
    assert after_rank == 1 and (before_rank is None or before_rank > 1)

    company.goto("/rewards")
    reward = company.locator("article", has_text="60")
    with company.expect_navigation():
        reward.first.locator("button[type=submit]").click()
    expect(company.locator(".flash")).to_contain_text(re.compile(r"[2-9A-HJ-NP-Z]{10}"))
    assert int(company.locator("#balance").inner_text().replace(",", "")) == after_balance - 60
    expect(company.locator("[id^=redemption-]")).to_have_count(1)
