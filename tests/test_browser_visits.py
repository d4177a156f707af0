"""Browser tests of the caseworker's visits on a phone, and a village agent's application,
on the real app (``live_server``: its own process, demo data, CSRF on) through Chromium.

A caseworker opens the visits due on a 375px phone, logs a visit to an overdue household
that finds a need; the connection drops on the way and nothing typed is lost; the saved
visit opens a draft need prefilled from what was found. A village agent sends an
application from a phone; the caseworker returns it with a reason, which the agent sees.

Run: ``REQUIRE_BROWSER=1 python -m pytest tests/test_browser_visits.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

# Importing this module skips (or, with REQUIRE_BROWSER=1, fails) without a browser.
from tests import test_browser as shared
from tests.test_browser import (
    CASEWORKER,
    BrowserContext,
    Page,
    expect,
    resident_id,
    sign_in,
    submit_form,
)

browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 375, "height": 812},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def _fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width}px wide on a 375px phone"


def test_log_a_visit_on_a_phone_that_finds_a_need(
    new_context: Callable[..., BrowserContext],
) -> None:
    context = new_context(**PHONE)
    page = context.new_page()
    sign_in(page, CASEWORKER)
    page.locator("header nav a[href='/work/visits']").click()
    expect(page.locator("h1")).to_have_text("待探访")
    _fits_the_phone(page)
    overdue = page.locator("#due-list li.due-overdue").first
    expect(overdue.locator(".light-red")).to_be_visible()
    overdue.get_by_role("link", name="登记探访").click()
    expect(page).to_have_url(re.compile(r"/work/households/\d+/visit$"))
    household_id = int(re.search(r"/households/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    _fits_the_phone(page)

    form = page.locator("#visit-form")
    form.locator("select[name=method]").select_option("home")
    form.locator("input[name=met]").fill("户主和女儿")
    form.get_by_label("缺少食物或生活用品").check()
    form.get_by_label("孤独或情绪低落").check()
    note = "老人说电饭煲坏了。现在只能用小锅煮饭，希望换一个新的。"
    form.locator("textarea[name=note]").fill(note)
    form.get_by_label("发现了需求：接着起草需求").check()

    # The connection drops as the caseworker presses save: nothing reaches the server...
    context.set_offline(True)
    with (
        pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"),
        page.expect_navigation(),
    ):
        form.locator("button[type=submit]").click()
    context.set_offline(False)
    # ...and coming back to the page later, everything typed is still there.
    page.goto(f"/work/households/{household_id}/visit")
    expect(page.locator("#draft-restored")).to_be_visible()
    form = page.locator("#visit-form")
    expect(form.locator("input[name=met]")).to_have_value("户主和女儿")
    expect(form.locator("textarea[name=note]")).to_have_value(note)
    expect(form.get_by_label("孤独或情绪低落")).to_be_checked()
    expect(form.get_by_label("发现了需求：接着起草需求")).to_be_checked()

    submit_form(page, "#visit-form", 200)
    # The visit is saved, the draft in the browser is gone, and a need form opens,
    # prefilled from what the visit found.
    expect(page).to_have_url(re.compile(r"/work/visits/\d+/need\?saved=1$"))
    expect(page.locator(".flash")).to_contain_text("探访已保存")
    assert page.evaluate(f"localStorage.getItem('visit-draft-{household_id}')") is None
    need_form = page.locator("#need-form")
    expect(need_form.locator("select[name=kind]")).to_have_value("micro_wish")
    expect(need_form.locator("input[name=title]")).to_have_value("老人说电饭煲坏了")
    expect(need_form.locator("textarea[name=story]")).to_have_value(note)
    need_form.locator("input[name=title]").fill("微心愿：电饭煲")
    need_form.locator("input[name=item]").fill("电饭煲")
    need_form.locator("input[name=quantity]").fill("1")
    need_form.locator("input[name=estimated_value_yuan]").fill("260")
    _fits_the_phone(page)
    submit_form(page, "#need-form", 200)
    expect(page).to_have_url(re.compile(r"/work/needs/\d+$"))
    expect(page.locator("h1")).to_contain_text("微心愿：电饭煲")
    expect(page.locator("main")).to_contain_text("草稿")

    page.goto(f"/work/households/{household_id}")
    visits = page.locator("#visits")
    expect(visits.locator("li").first).to_contain_text("入户探访")
    expect(visits.locator("li").first).to_contain_text("孤独或情绪低落")
    expect(visits.get_by_role("link", name="已起草需求").first).to_be_visible()
    expect(page.locator("#history")).to_contain_text("根据探访起草了需求")
    _fits_the_phone(page)


def test_an_agent_applies_and_the_caseworker_returns_it(
    new_context: Callable[..., BrowserContext],
) -> None:
    agent = new_context(**PHONE).new_page()
    sign_in(agent, "agent2@demo.example")
    agent.locator("header nav a[href='/agent/applications/new']").click()
    form = agent.locator("#application-form")
    form.locator("input[name=applicant_name]").fill("罗阿婆")
    form.locator("input[name=id_number]").fill(resident_id("440106", "19450301", 12))
    form.locator("input[name=phone]").fill("13900001234")
    form.locator("input[name=address]").fill("天河区车陂村九巷3号")
    form.locator("textarea[name=need_text]").fill("独居老人，床边需要安装扶手，起夜时容易摔倒。")
    _fits_the_phone(agent)
    submit_form(agent, "#application-form", 200)
    expect(agent.locator("#application-status")).to_have_text("待社工确认")
    number = re.search(r"/agent/applications/(\d+)$", agent.url).group(1)  # type: ignore[union-attr]

    caseworker = new_context().new_page()
    sign_in(caseworker, CASEWORKER)
    caseworker.locator("header nav a[href='/work/intake']").click()
    caseworker.get_by_role("link", name="罗阿婆").click()
    caseworker.locator("#return-form textarea[name=note]").fill("请补拍户口簿首页。")
    submit_form(caseworker, "#return-form", 200)
    expect(caseworker.locator(".flash")).to_contain_text("已连同理由退回代办员")

    agent.goto(f"/agent/applications/{number}")
    expect(agent.locator("#application-status")).to_have_text("已退回待修改")
    expect(agent.locator("main")).to_contain_text("请补拍户口簿首页。")
