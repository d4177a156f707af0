"""Browser test of a cash gift: a donor funds part of a wish, pays on the local Stripe
stand-in's checkout page, comes back to the success page and sees the receipt; the
caseworker sees the funded amount. Uses the live server and the stand-in it talks to."""

from __future__ import annotations

import re

import pytest

from tests import test_browser as shared
from tests.test_browser import DISTRICT, HouseholdInput, WishInput, expect, resident_id, sign_in
from tests.test_browser_claims import NewContext, assert_anonymous, new_page, publish_wish, zh

browser = shared.browser
new_context = shared.new_context

pytestmark = pytest.mark.browser


def test_donor_funds_part_of_a_wish_through_checkout(new_context: NewContext) -> None:
    household = HouseholdInput(
        name="欧阳桂芳",
        id_number=resident_id(DISTRICT, "19480302", 302),
        phone="13822460302",
        address="广州市天河区车陂路3号201房",
    )
    wish = WishInput(
        title="冬天的棉被（现金资助测试）",
        story="老人家里的被子太薄，冬天睡不暖，希望有两床厚棉被。",
        category="living",
        item="厚棉被",
        quantity="2",
        value="300",
    )
    caseworker, need_id = publish_wish(new_context, household, wish)

    donor = new_page(new_context)
    sign_in(donor, "donor9@demo.example")
    donor.goto(f"/needs/{need_id}")
    funding = donor.locator("#funding")
    expect(funding.locator("progress")).to_have_attribute("value", "0")
    funding.locator("input[name=amount_yuan]").fill("120")
    with donor.expect_navigation():
        funding.locator("button[type=submit]").click()
    # On the stand-in's hosted checkout page, for exactly the pledged amount.
    expect(donor.locator("#amount")).to_have_text("120.00 CNY")
    with donor.expect_navigation():
        donor.locator("#pay").click()
    expect(donor).to_have_url(re.compile(r"/payments/\d+/success\?session_id=cs_test_"))
    expect(donor.locator("#payment-state")).to_contain_text("120.00")
    with donor.expect_navigation():
        donor.locator("a[href*='/receipt']").first.click()
    expect(donor.locator("#receipt-amount")).to_contain_text("¥120.00")
    receipt_number = donor.locator("#receipt-number").inner_text()
    assert re.fullmatch(r"SL\d{8}[0-9A-F]{8}", receipt_number), receipt_number
    assert_anonymous(donor, household)
    donor.goto("/me/giving")
    expect(donor.locator("main table")).to_contain_text(wish.title)

    # Partly funded: still open, and the public page shows the progress.
    donor.goto(f"/needs/{need_id}")
    expect(donor.locator("#funding progress")).to_have_attribute("value", "12000")

    caseworker.goto(f"/work/needs/{need_id}")
    expect(caseworker.locator("#cash-funded")).to_contain_text("120")
    expect(caseworker.locator("#need-state")).to_have_class(re.compile(r"\bstate-published\b"))
    assert zh("Cash gifts")  # the panel's heading comes from the catalogue
