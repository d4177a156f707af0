"""Browser test of M餐: a restaurant posts lunch for 20, a caseworker books a portion for a
household, the code is redeemed on the restaurant's phone page (which shows nothing of the
household) and the restaurant's points rise; a person who registered themselves books
three pickups without proof, the fourth is refused until the caseworker links them."""

from __future__ import annotations

import re

import pytest

from tests import test_browser as shared
from tests.test_browser import CASEWORKER, expect, sign_in
from tests.test_browser_claims import NewContext, new_page

browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser
RESTAURANT = "restaurant2@demo.example"  # 天河区街坊爱心食堂
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}


def balance(page) -> int:
    page.goto("/points")
    return int(page.locator("#balance").inner_text().replace(",", ""))


def post_lunch(page, title: str) -> str:
    page.goto("/organisation/offers")
    with page.expect_navigation():
        page.locator("#new-offer").click()
    form = page.locator("#offer-form")
    form.locator("select[name=kind]").select_option("meal")
    form.locator("input[name=title]").fill(title)
    form.locator("input[name=place]").fill("广州市天河区天河路230号 街坊食堂")
    for box in form.locator("input[name=weekdays]").all():
        box.check()
    form.locator("input[name=window_start]").fill("00:00")
    form.locator("input[name=window_end]").fill("23:59")
    form.locator("input[name=portions_per_window]").fill("20")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("main h1")).to_have_text(title)
    expect(page.locator("#book-form, .slots").first).to_be_attached()
    return page.url


def test_restaurant_lunch_booked_redeemed_and_points(new_context: NewContext) -> None:
    restaurant = new_context(**PHONE).new_page()
    sign_in(restaurant, RESTAURANT)
    before = balance(restaurant)
    offer_url = post_lunch(restaurant, "浏览器测试午餐")
    expect(restaurant.locator("main")).to_contain_text("20")

    caseworker = new_page(new_context)
    sign_in(caseworker, CASEWORKER)
    caseworker.goto(offer_url)
    form = caseworker.locator("#book-form")
    household = form.locator("select[name=household_id] option").nth(1)
    household_label = household.inner_text()
    form.locator("select[name=household_id]").select_option(index=1)
    with caseworker.expect_navigation():
        form.locator("button[type=submit]").click()
    code = caseworker.locator("#pickup-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", code), code
    expect(caseworker.locator("img.qr")).to_be_visible()

    restaurant.goto("/organisation/offers")
    with restaurant.expect_navigation():
        restaurant.locator("#check-link").click()
    restaurant.locator("#code").fill(code.lower())
    with restaurant.expect_navigation():
        restaurant.locator("#check-form button").click()
    result = restaurant.locator("#pickup-result")
    expect(result).to_contain_text("有效")
    expect(result).to_contain_text("1份餐")
    html = restaurant.content()
    name = household_label.split(" ", 1)[1]
    assert name not in html  # nothing of the household on the provider's page
    with restaurant.expect_navigation():
        restaurant.locator("#redeem-form button").click()
    expect(restaurant.locator("#pickup-result")).to_contain_text("已核销")
    with restaurant.expect_navigation():
        restaurant.locator("#redeem-form button, #check-form button").first.click()
    expect(restaurant.locator("#pickup-result")).to_contain_text("已使用")
    assert balance(restaurant) == before + 2
    restaurant.goto("/organisation/offers")
    row = restaurant.locator("#my-offers tr", has_text="浏览器测试午餐")
    expect(row.locator("td.redeemed")).to_have_text("1")
    # Phone width: nothing wider than the screen.
    width = restaurant.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width


def test_fourth_unverified_booking_refused_until_linked(new_context: NewContext) -> None:
    restaurant = new_page(new_context)
    sign_in(restaurant, RESTAURANT)
    offer_url = post_lunch(restaurant, "无需证明午餐")

    person = new_context(**PHONE).new_page()
    person.goto("/offers/join")
    form = person.locator("main form")
    form.locator("input[name=display_name]").fill("阿强")
    form.locator("input[name=phone]").fill("13912340000")
    form.locator("select[name=district_code]").select_option("440106")
    form.locator("input[name=email]").fill("aqiang@browser.example")
    form.locator("input[name=password]").fill("a-good-pass-123")
    with person.expect_navigation():
        form.locator("button[type=submit]").click()
    for day in range(3):  # three days: the daily limit is not what stops the fourth
        person.goto(offer_url)
        person.locator("#book-form input[name=slot_id]").nth(day).check()
        with person.expect_navigation():
            person.locator("#book-form button[type=submit]").click()
        expect(person.locator("#pickup-code")).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{8}$"))
    person.goto(offer_url)
    person.locator("#book-form input[name=slot_id]").nth(3).check()
    with person.expect_navigation():
        person.locator("#book-form button[type=submit]").click()
    expect(person.locator(".flash")).to_contain_text("社工")
    assert "/bookings/" not in person.url

    caseworker = new_page(new_context)
    sign_in(caseworker, CASEWORKER)
    caseworker.goto("/")
    with caseworker.expect_navigation():
        caseworker.locator(".site-nav a[href='/work/recipients']").click()
    link = caseworker.locator("#link-form")
    link.locator("input[name=phone]").fill("139 1234 0000")
    link.locator("select[name=household_id]").select_option(index=2)
    with caseworker.expect_navigation():
        link.locator("button[type=submit]").click()
    expect(caseworker.locator(".flash")).to_contain_text("已关联")

    person.goto(offer_url)
    person.locator("#book-form input[name=slot_id]").nth(3).check()
    with person.expect_navigation():
        person.locator("#book-form button[type=submit]").click()
    expect(person.locator("#pickup-code")).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{8}$"))
