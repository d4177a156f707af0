"""Browser tests: the real app (``live_server``: its own process, demo data, CSRF on) driven
through the machine's Chromium by Playwright.

They follow what people do: a caseworker records a household and a micro-wish and submits
it, a verifier publishes it, and an anonymous visitor finds it, in Chinese and in English,
without ever seeing who the household is. Plus: the author cannot approve their own need, a
bad form input is refused without losing what was typed, and the site works on a phone.

Run: ``REQUIRE_BROWSER=1 pytest tests/test_browser.py``. Without /usr/bin/chromium the
module is skipped, unless ``REQUIRE_BROWSER=1``, when it fails. Browsers are never
downloaded (no ``playwright install``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium); never `playwright install`"
    return None


_MISSING = _missing_browser()
if _MISSING and not REQUIRED:
    pytest.skip(f"browser tests skipped: {_MISSING}", allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Page,
    Response,
    expect,
    sync_playwright,
)

CASEWORKER = "caseworker@demo.example"  # caseworker of 440106 天河区, Guangzhou
VERIFIER = "verifier@demo.example"  # province-wide verifier
DISTRICT = "440106"
TIMEOUT_MS = 10_000

# GB 11643 resident ID checksum, written out here rather than imported, so a wrong table
# in the app would show up as a refused valid ID.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def resident_id(district: str, birth: str, sequence: int) -> str:
    body = f"{district}{birth}{sequence:03d}"
    assert len(body) == 17
    total = sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True))
    return body + ID_CHECK[total % 11]


def test_resident_id_helper_matches_known_ids() -> None:
    # Published examples of valid IDs (one ends in X), so the helper itself is trustworthy.
    assert resident_id("110105", "19491231", 2) == "11010519491231002X"
    assert resident_id("440524", "18800101", 1) == "440524188001010014"


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if _MISSING:
        pytest.fail(f"REQUIRE_BROWSER=1 but {_MISSING}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Problems:
    """What went wrong in a context besides the test's own assertions."""

    server_errors: list[str]
    script_errors: list[str]


@pytest.fixture
def new_context(browser: Browser, live_server: str) -> Iterator[Callable[..., BrowserContext]]:
    """``new_context(**options)``: a fresh context (no cookies) on the live server, as a
    visitor whose browser asks for Chinese. Fails the test on any 5xx or script error."""
    opened: list[tuple[BrowserContext, Problems]] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("locale", "zh-CN")
        options.setdefault("timezone_id", "Asia/Shanghai")
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        problems = Problems([], [])

        def on_response(response: Response) -> None:
            if response.status >= 500:
                problems.server_errors.append(f"{response.status} {response.url}")

        context.on("response", on_response)
        context.on("weberror", lambda error: problems.script_errors.append(str(error.error)))
        # Irreversible actions ask once (window.confirm); the person in these tests agrees.
        # Tests that check the question read ``context.dialogs``.
        dialogs: list[str] = []

        def agree(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.accept()

        context.on("page", lambda page: page.on("dialog", agree))
        context.dialogs = dialogs  # type: ignore[attr-defined]
        opened.append((context, problems))
        return context

    yield make
    for context, _problems in opened:
        context.close()
    for _context, problems in opened:
        assert not problems.server_errors, f"server errors: {problems.server_errors}"
        assert not problems.script_errors, f"script errors: {problems.script_errors}"


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


# --- steps shared by the tests ---------------------------------------------------------

SIGN_OUT = "header form[action$='/logout'] button[type=submit]"
SIGN_IN_LINK = "header a[href^='/login']"


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    form = page.locator("main form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    assert "/login" not in page.url, f"sign-in of {email} failed: " + page.inner_text("main")
    landing = navigation.value
    assert landing is not None and landing.status == 200, (
        f"{email} lands on {page.url} with {landing and landing.status}: "
        + page.inner_text("main")[:300]
    )
    expect(page.locator(SIGN_OUT)).to_be_visible()
    expect(page.locator(SIGN_IN_LINK)).to_have_count(0)


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.locator(SIGN_OUT).click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(SIGN_OUT)).to_have_count(0)
    expect(page.locator(SIGN_IN_LINK)).to_be_visible()


def submit_form(page: Page, form_selector: str, expected_status: int | None = None) -> Response:
    """Click the form's submit button; return the response of the page that follows
    (after redirects), checking its status when given."""
    with page.expect_navigation() as navigation:
        page.locator(f"{form_selector} button[type=submit]").last.click()
    response = navigation.value
    assert response is not None
    if expected_status is not None:
        assert response.status == expected_status, (response.status, page.inner_text("main"))
    return response


@dataclass(frozen=True)
class HouseholdInput:
    name: str
    id_number: str
    phone: str
    address: str
    group: str = "elderly"
    need_score: str = "1"
    notes: str = ""


@dataclass(frozen=True)
class WishInput:
    title: str
    story: str
    category: str = "education"
    urgency: str = "high"
    item: str = "护眼台灯"
    quantity: str = "1"
    value: str = "150"


def fill_household(page: Page, household: HouseholdInput) -> None:
    form = page.locator("main form")
    form.locator("input[name=name]").fill(household.name)
    form.locator("input[name=id_number]").fill(household.id_number)
    form.locator("input[name=phone]").fill(household.phone)
    form.locator("input[name=address]").fill(household.address)
    # The caseworker's own district is preselected, and the only district offered.
    expect(form.locator("select[name=district_code]")).to_have_value(DISTRICT)
    form.locator("select[name=district_code]").select_option(DISTRICT)
    form.locator("select[name=group]").select_option(household.group)
    form.locator("textarea[name=notes]").fill(household.notes)


def record_household(page: Page, household: HouseholdInput) -> int:
    """As a signed-in caseworker, through the Households page; returns the household id."""
    page.locator("header nav a[href='/work/households']").click()
    expect(page).to_have_url(re.compile(r"/work/households$"))
    with page.expect_navigation():
        page.locator("main a[href='/work/households/new']").click()
    expect(page.locator("h1")).to_have_text("登记家庭")
    fill_household(page, household)
    submit_form(page, "main form", 200)
    match = re.search(r"/work/households/(\d+)$", page.url)
    assert match, page.url
    expect(page.locator("h1")).to_have_text(household.name)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(household.id_number)
    expect(facts).to_contain_text(household.phone)
    expect(facts).to_contain_text(household.address)
    return int(match.group(1))


def fill_wish(page: Page, wish: WishInput) -> None:
    form = page.locator("#need-form")
    form.locator("input[name=title]").fill(wish.title)
    form.locator("textarea[name=story]").fill(wish.story)
    form.locator("select[name=category]").select_option(wish.category)
    form.locator("select[name=urgency]").select_option(wish.urgency)
    form.locator("input[name=item]").fill(wish.item)
    form.locator("input[name=quantity]").fill(wish.quantity)
    form.locator("input[name=estimated_value_yuan]").fill(wish.value)


def open_new_wish_form(page: Page, household_id: int) -> None:
    """From the household page, follow its "new micro-wish" link."""
    with page.expect_navigation():
        page.locator(
            f"main a[href='/work/households/{household_id}/needs/new?kind=micro_wish']"
        ).click()
    expect(page.locator("#need-form select[name=kind]")).to_have_value("micro_wish")
    # need-form.js shows only the micro-wish fields.
    expect(page.locator("fieldset[data-kind=micro_wish]")).to_be_visible()
    expect(page.locator("fieldset[data-kind=farm_help]")).to_be_hidden()
    expect(page.locator("fieldset[data-kind=repair]")).to_be_hidden()


def draft_and_submit_wish(page: Page, household_id: int, wish: WishInput) -> int:
    """As the caseworker on the household page: draft the wish, submit it; returns its id."""
    open_new_wish_form(page, household_id)
    fill_wish(page, wish)
    submit_form(page, "#need-form", 200)
    match = re.search(r"/work/needs/(\d+)$", page.url)
    assert match, page.url
    need_id = int(match.group(1))
    expect(page.locator("h1")).to_have_text(wish.title)
    expect(page.locator("#need-state")).to_have_class(re.compile(r"\bstate-draft\b"))
    expect(page.locator("#need-state")).to_have_text("草稿")
    submit = page.locator("button[data-action=submit]")
    expect(submit).to_have_text("提交审核")
    with page.expect_navigation():
        submit.click()
    expect(page).to_have_url(re.compile(rf"/work/needs/{need_id}$"))
    expect(page.locator("#need-state")).to_have_class(re.compile(r"\bstate-submitted\b"))
    expect(page.locator("button[data-action=submit]")).to_have_count(0)
    return need_id


def assert_no_horizontal_overflow(page: Page) -> None:
    sizes = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert sizes["scroll"] <= sizes["inner"] + 1, f"{page.url} overflows sideways: {sizes}"


# --- 1. the main walk ----------------------------------------------------------


def test_caseworker_to_verifier_to_public_walk(new_context: Callable[..., BrowserContext]) -> None:
    household = HouseholdInput(
        name="欧阳桂香",
        id_number=resident_id(DISTRICT, "19490315", 527),
        phone="13926480137",
        address="广州市天河区石牌街道某某新村17栋302房",
        notes="独居，儿子在外地务工",
    )
    wish = WishInput(
        title="初中生的护眼台灯（浏览器测试）",
        story="家中孩子读初二，晚上写作业只有一盏昏暗的灯泡，希望有一盏护眼台灯。",
    )

    # The caseworker records the household and the wish, and submits it.
    caseworker = new_context().new_page()
    sign_in(caseworker, CASEWORKER)
    expect(caseworker).to_have_url(re.compile(r"/work/$"))
    household_id = record_household(caseworker, household)
    need_id = draft_and_submit_wish(caseworker, household_id, wish)
    sign_out(caseworker)

    # Signed out, the desk is closed to this browser.
    response = caseworker.goto(f"/work/needs/{need_id}")
    assert response is not None
    assert "/login" in caseworker.url or response.status in (401, 403), caseworker.url

    # A submitted need is not public yet.
    visitor = new_context().new_page()
    response = visitor.goto(f"/needs/{need_id}")
    assert response is not None and response.status == 404

    # The verifier finds it in the review queue and approves it.
    verifier = new_context().new_page()
    sign_in(verifier, VERIFIER)
    expect(verifier).to_have_url(re.compile(r"/review/$"))
    expect(verifier.locator("h1")).to_have_text("待审核需求")
    entry = verifier.locator(f"main table a[href='/work/needs/{need_id}']")
    expect(entry).to_have_text(wish.title)
    with verifier.expect_navigation():
        entry.click()
    expect(verifier.locator("h1")).to_have_text(wish.title)
    approve = verifier.locator("button[data-action=approve]")
    expect(approve).to_have_text("审核通过并发布")
    expect(verifier.locator("#privacy-checklist")).to_be_visible()
    verifier.locator("input[name=privacy_checked]").check()
    with verifier.expect_navigation():
        approve.click()
    expect(verifier.locator("#need-state")).to_have_class(re.compile(r"\bstate-published\b"))
    expect(verifier.locator("button[data-action=approve]")).to_have_count(0)
    verifier.goto("/review/")
    expect(verifier.locator(f"main table a[href='/work/needs/{need_id}']")).to_have_count(0)
    sign_out(verifier)

    # An anonymous visitor finds it in the public list, in Chinese.
    visitor.goto("/needs")
    expect(visitor.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(visitor.locator("main h1")).to_have_text("需求")
    card = visitor.locator(".need-card").filter(
        has=visitor.locator(f"h3 a[href='/needs/{need_id}']")
    )
    expect(card).to_have_count(1)
    expect(card.locator("h3 a")).to_have_text(wish.title)
    expect(card.locator(".badge.kind")).to_have_text("微心愿")
    expect(card.locator(".badge.state-published")).to_be_visible()
    with visitor.expect_navigation():
        card.locator("h3 a").click()
    expect(visitor).to_have_url(re.compile(rf"/needs/{need_id}$"))
    expect(visitor.locator("main h1")).to_have_text(wish.title)
    expect(visitor.locator(".story")).to_have_text(wish.story)
    expect(visitor.locator(".need-detail")).to_contain_text("天河区")  # only the district
    expect(visitor.locator(f"main a[href='/login?next=/needs/{need_id}']")).to_be_visible()

    # Nothing that identifies the household is in the public page, shown or hidden.
    html = visitor.content()
    text = visitor.inner_text("body")
    for secret in (
        household.name,
        household.phone,
        household.id_number,
        household.address,
        household.notes,
    ):
        assert secret not in html, f"public page leaks {secret!r}"
        assert secret not in text, f"public page shows {secret!r}"

    # The visitor switches to English with the header link and stays on the need.
    switch = visitor.locator("header a.lang")
    expect(switch).to_have_text("English")
    with visitor.expect_navigation():
        switch.click()
    expect(visitor).to_have_url(re.compile(rf"/needs/{need_id}\??$"))
    expect(visitor.locator("html")).to_have_attribute("lang", "en")
    expect(visitor.locator("main h1")).to_have_text(wish.title)
    expect(visitor.locator(".need-detail .badge.kind")).to_have_text("Micro-wish")
    expect(visitor.locator(".need-detail .badge.state-published")).to_have_text("Open")
    expect(visitor.locator("header a.lang")).to_have_text("中文")
    html = visitor.content()
    for secret in (household.name, household.phone, household.id_number, household.address):
        assert secret not in html, f"English public page leaks {secret!r}"

    # The English list shows the same need with English labels (the choice is remembered).
    with visitor.expect_navigation():
        visitor.locator("header nav a[href='/needs']").click()
    expect(visitor.locator("main h1")).to_have_text("Needs")
    card = visitor.locator(".need-card").filter(
        has=visitor.locator(f"h3 a[href='/needs/{need_id}']")
    )
    expect(card.locator("h3 a")).to_have_text(wish.title)
    expect(card.locator(".badge.kind")).to_have_text("Micro-wish")
    expect(visitor.locator("header nav a[href='/login']")).to_have_text("Sign in")


# --- 2. no approving one's own need ----------------------------------------------------


def test_caseworker_cannot_approve_own_submitted_need(
    new_context: Callable[..., BrowserContext],
) -> None:
    household = HouseholdInput(
        name="司徒永强",
        id_number=resident_id(DISTRICT, "19580722", 314),
        phone="02038765421",
        address="广州市天河区棠下村五巷9号",
    )
    wish = WishInput(
        title="老人的冬季棉被（浏览器测试）",
        story="老人怕冷，旧被子用了十多年，已经不保暖，希望有两床厚棉被过冬。",
        category="living",
        urgency="normal",
        item="厚棉被",
        quantity="2",
        value="300",
    )
    page = new_context().new_page()
    sign_in(page, CASEWORKER)
    household_id = record_household(page, household)
    need_id = draft_and_submit_wish(page, household_id, wish)

    # The page offers the caseworker's own actions, but never approval.
    expect(page.locator("button[data-action=cancel]")).to_be_visible()
    expect(page.locator("button[data-action=approve]")).to_have_count(0)
    expect(page.locator("button[data-action=reject]")).to_have_count(0)

    # Forging the approval with a valid CSRF token is refused too, and nothing changes.
    token = page.locator("form.action-form input[name=csrf_token]").first.input_value()
    status = page.evaluate(
        """async ([url, token]) => {
            const response = await fetch(url, {
                method: "POST", redirect: "manual",
                body: new URLSearchParams({csrf_token: token}),
            });
            return response.status;
        }""",
        [f"/work/needs/{need_id}/approve", token],
    )
    assert status == 403, status
    page.reload()
    expect(page.locator("#need-state")).to_have_class(re.compile(r"\bstate-submitted\b"))
    expect(page.locator("ol.timeline li")).to_have_count(2)  # created, submitted: no approval
    # Still not public.
    response = new_context().new_page().goto(f"/needs/{need_id}")
    assert response is not None and response.status == 404


# --- 3. bad input: a clear error next to the field, nothing typed is lost -------------


def test_weak_password_is_refused_and_the_form_keeps_its_values(page: Page) -> None:
    page.goto("/register")
    form = page.locator("main form")
    form.locator("select[name=role]").select_option("team")
    form.locator("input[name=display_name]").fill("周晓岚")
    form.locator("input[name=email]").fill("xiaolan.zhou@example.org")
    form.locator("input[name=password]").fill("onlyletters")
    form.locator("input[name=password_again]").fill("onlyletters")
    form.locator("input[name=organisation_name]").fill("天河青年志愿队")
    form.locator("select[name=district_code]").select_option(DISTRICT)
    submit_form(page, "main form", 422)

    expect(page).to_have_url(re.compile(r"/register$"))
    password = page.locator("#field-password")
    expect(password).to_have_class(re.compile(r"\bhas-error\b"))
    expect(password.locator(".error")).to_have_text("请同时使用字母和数字或符号。")
    expect(password.locator("input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-email")).not_to_have_class(re.compile(r"\bhas-error\b"))
    # Everything else typed is still there.
    form = page.locator("main form")
    expect(form.locator("select[name=role]")).to_have_value("team")
    expect(form.locator("input[name=display_name]")).to_have_value("周晓岚")
    expect(form.locator("input[name=email]")).to_have_value("xiaolan.zhou@example.org")
    expect(form.locator("input[name=organisation_name]")).to_have_value("天河青年志愿队")
    expect(form.locator("select[name=district_code]")).to_have_value(DISTRICT)
    # No account was made and nobody is signed in.
    expect(page.locator(SIGN_IN_LINK)).to_be_visible()

    # Fixing only the password is enough.
    form.locator("input[name=password]").fill("letters-and-42")
    form.locator("input[name=password_again]").fill("letters-and-42")
    submit_form(page, "main form", 200)
    expect(page.locator(SIGN_OUT)).to_be_visible()


def test_invalid_resident_id_is_refused_and_the_form_keeps_its_values(page: Page) -> None:
    valid = resident_id(DISTRICT, "19620304", 218)
    wrong_check = "0" if valid[-1] != "0" else "1"
    household = HouseholdInput(
        name="冼伯坚",
        id_number=valid[:-1] + wrong_check,  # 18 characters, wrong checksum
        phone="13711112222",
        address="广州市天河区车陂路南三巷6号",
        group="ill_or_disabled",
        need_score="2",
        notes="行动不便，需上门",
    )
    sign_in(page, CASEWORKER)
    page.goto("/work/households/new")
    fill_household(page, household)
    submit_form(page, "main form", 422)

    expect(page).to_have_url(re.compile(r"/work/households/new$"))
    id_field = page.locator("#field-id_number")
    expect(id_field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(id_field.locator(".error")).to_have_text("请输入有效的18位身份证号码。")
    expect(id_field.locator("input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field.has-error")).to_have_count(1)
    form = page.locator("main form")
    expect(form.locator("input[name=id_number]")).to_have_value(household.id_number)
    expect(form.locator("input[name=name]")).to_have_value(household.name)
    expect(form.locator("input[name=phone]")).to_have_value(household.phone)
    expect(form.locator("input[name=address]")).to_have_value(household.address)
    expect(form.locator("select[name=district_code]")).to_have_value(DISTRICT)
    expect(form.locator("select[name=group]")).to_have_value(household.group)
    expect(form.locator("textarea[name=notes]")).to_have_value(household.notes)

    # Correcting the one field saves the household with everything else as typed.
    form.locator("input[name=id_number]").fill(valid)
    submit_form(page, "main form", 200)
    match = re.search(r"/work/households/(\d+)$", page.url)
    assert match, page.url
    expect(page.locator("h1")).to_have_text(household.name)
    expect(page.locator("dl.facts")).to_contain_text(valid)
    expect(page.locator("dl.facts")).to_contain_text(household.address)

    # A public story that gives away the household is refused next to the story, too.
    open_new_wish_form(page, int(match.group(1)))
    wish = WishInput(
        title="轮椅（浏览器测试）",
        story=f"请联系{household.phone}，老人腿脚不便，需要一辆轻便轮椅复诊。",
        category="medical",
        item="轻便轮椅",
        value="900",
    )
    fill_wish(page, wish)
    submit_form(page, "#need-form", 422)
    story = page.locator("#field-story")
    expect(story).to_have_class(re.compile(r"\bhas-error\b"))
    expect(story.locator(".error")).to_be_visible()
    form = page.locator("#need-form")
    expect(form.locator("textarea[name=story]")).to_have_value(wish.story)
    expect(form.locator("input[name=title]")).to_have_value(wish.title)
    expect(form.locator("select[name=category]")).to_have_value(wish.category)
    expect(form.locator("select[name=urgency]")).to_have_value(wish.urgency)
    expect(form.locator("input[name=item]")).to_have_value(wish.item)
    expect(form.locator("input[name=quantity]")).to_have_value(wish.quantity)
    expect(form.locator("input[name=estimated_value_yuan]")).to_have_value(wish.value)
    # After the round trip the script still shows only the micro-wish fields.
    expect(page.locator("fieldset[data-kind=micro_wish]")).to_be_visible()
    expect(page.locator("fieldset[data-kind=farm_help]")).to_be_hidden()


# --- the language a visitor gets --------------------------------------------------------


def test_chinese_is_the_default_and_a_chosen_language_sticks(
    new_context: Callable[..., BrowserContext],
) -> None:
    # A browser that asks for neither language gets Chinese.
    visitor = new_context(locale="fr-FR").new_page()
    visitor.goto("/needs")
    expect(visitor.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(visitor.locator("main h1")).to_have_text("需求")

    # A browser that asks for English gets English until the visitor picks 中文, which then
    # holds on every page.
    visitor = new_context(locale="en-GB").new_page()
    visitor.goto("/needs?kind=micro_wish")
    expect(visitor.locator("main h1")).to_have_text("Needs")
    switch = visitor.locator("header a.lang")
    expect(switch).to_have_text("中文")
    with visitor.expect_navigation():
        switch.click()
    expect(visitor).to_have_url(re.compile(r"/needs\?kind=micro_wish$"))
    expect(visitor.locator("main h1")).to_have_text("需求")
    expect(visitor.locator(".need-card .badge.kind").first).to_have_text("微心愿")
    visitor.goto("/login")
    expect(visitor.locator("main h1")).to_have_text("登录")
    expect(visitor.locator("header a.lang")).to_have_text("English")


# --- 4. on a phone ---------------------------------------------------------------------


def test_home_and_needs_list_work_on_a_phone(new_context: Callable[..., BrowserContext]) -> None:
    context = new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    phone = context.new_page()
    phone.goto("/")
    assert phone.evaluate("window.innerWidth") == 390
    expect(phone.locator("main h1")).to_have_text("帮帮身边的困难家庭")
    assert_no_horizontal_overflow(phone)

    # Every header link is on screen and big enough to hit.
    links = phone.locator("header a")
    assert links.count() >= 4
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None, links.nth(i).inner_text()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 391, (links.nth(i).inner_text(), box)
        assert box["height"] >= 16, (links.nth(i).inner_text(), box)

    with phone.expect_navigation():
        phone.locator("header nav a[href='/needs']").tap()
    expect(phone).to_have_url(re.compile(r"/needs$"))
    expect(phone.locator("main h1")).to_have_text("需求")
    cards = phone.locator(".need-card")
    expect(cards.first).to_be_visible()
    assert_no_horizontal_overflow(phone)
    card_box = cards.first.bounding_box()
    assert card_box is not None and card_box["x"] + card_box["width"] <= 391, card_box

    # The filters work by touch.
    phone.locator("form.filters select[name=kind]").select_option("micro_wish")
    with phone.expect_navigation():
        phone.locator("form.filters button[type=submit]").tap()
    expect(phone).to_have_url(re.compile(r"[?&]kind=micro_wish"))
    expect(cards.first).to_be_visible()
    badges = phone.locator(".need-card .badge.kind").all_inner_texts()
    assert badges and set(badges) == {"微心愿"}, badges
    assert_no_horizontal_overflow(phone)

    # A need opens and reads on the phone as well.
    with phone.expect_navigation():
        cards.first.locator("h3 a").tap()
    expect(phone).to_have_url(re.compile(r"/needs/\d+$"))
    expect(phone.locator(".need-detail h1")).to_be_visible()
    assert_no_horizontal_overflow(phone)

    # Sign-in from the phone's header.
    with phone.expect_navigation():
        phone.locator(SIGN_IN_LINK).tap()
    expect(phone.locator("main input[name=email]")).to_be_visible()
    assert_no_horizontal_overflow(phone)
