"""Offer pages through the HTTP stack: each role's journey, and bad input re-rendered."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.offers.models import Booking, BookingStatus, Offer, Recipient
from tests.factories import (
    TIANHE,
    HouseholdFactory,
    OrganisationFactory,
    UserFactory,
    meal_offer,
    member_of,
    restaurant,
)


@pytest.fixture(autouse=True)
def _english(client):
    """Pages in English whatever catalogs are compiled."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def _slot_id(offer) -> int:
    return offer.slots[0].id


def test_list_detail_and_search_are_public(client, session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin, title="爱心午餐甲")
    page = client.get("/offers?q=午餐甲&kind=meal&city=440100")
    assert page.status_code == 200 and "爱心午餐甲" in page.get_data(as_text=True)
    assert client.get("/offers?kind=nonsense&district=999999&page=-3").status_code == 200
    detail = client.get(f"/offers/{offer.id}")
    assert detail.status_code == 200 and "天河路1号" in detail.get_data(as_text=True)
    assert client.get("/offers/99999999").status_code == 404


def test_caseworker_books_then_provider_redeems_on_the_phone_page(client, auth, session) -> None:
    org, admin = restaurant()
    offer = meal_offer(admin)
    household = HouseholdFactory(name="不可泄露户主")
    caseworker = session.get(User, household.created_by_id)
    offer_id, slot_id, household_id = offer.id, _slot_id(offer), household.id
    auth.login(caseworker)
    detail = client.get(f"/offers/{offer_id}").get_data(as_text=True)
    assert "不可泄露户主" in detail  # the caseworker picks their household
    response = client.post(
        f"/offers/{offer_id}/book", data={"slot_id": slot_id, "household_id": household_id}
    )
    assert response.status_code == 302
    booking = session.scalar(select(Booking).where(Booking.household_id == household_id))
    code_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert booking.code in code_page
    qr = client.get(f"/bookings/{booking.id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    auth.logout()

    auth.login(admin)
    check = client.get(f"/provider/check?code={booking.code}")
    text = check.get_data(as_text=True)
    assert check.status_code == 200 and "Valid: 1 meal" in text
    assert "不可泄露户主" not in text
    redeem = client.post("/provider/check", data={"code": booking.code, "action": "redeem"})
    assert redeem.status_code == 200 and "Redeemed" in redeem.get_data(as_text=True)
    again = client.post("/provider/check", data={"code": booking.code, "action": "redeem"})
    assert again.status_code == 409
    assert client.get(f"/bookings/{booking.id}").status_code == 403  # providers see no bookings
    overview = client.get("/organisation/offers").get_data(as_text=True)
    assert "不可泄露户主" not in overview
    assert session.get(Booking, booking.id).status is BookingStatus.REDEEMED
    del org


def test_recipient_joins_books_three_then_is_refused(client, auth, session, app) -> None:
    app.config["OFFER_BOOKINGS_PER_DAY"], before = 10, app.config["OFFER_BOOKINGS_PER_DAY"]
    try:
        _org, admin = restaurant()
        offer = meal_offer(admin)
        offer_id, slot_id = offer.id, _slot_id(offer)
        bad = client.post(
            "/offers/join",
            data={
                "display_name": "",
                "phone": "123",
                "district_code": TIANHE,
                "email": "x@y.z",
                "password": "short",
            },
        )
        assert bad.status_code == 422 and 'value="123"' in bad.get_data(as_text=True)
        joined = client.post(
            "/offers/join",
            data={
                "display_name": "阿明",
                "phone": "13600000001",
                "district_code": TIANHE,
                "email": "aming@test.example",
                "password": "a-good-pass-123",
            },
        )
        assert joined.status_code == 302
        for _ in range(3):
            assert (
                client.post(f"/offers/{offer_id}/book", data={"slot_id": slot_id}).status_code
                == 302
            )
        refused = client.post(
            f"/offers/{offer_id}/book", data={"slot_id": slot_id}, follow_redirects=True
        )
        assert "link your account" in refused.get_data(as_text=True)
        mine = client.get("/bookings/mine").get_data(as_text=True)
        assert len(re.findall(r'id="booking-\d+"', mine)) == 3
        recipient = session.scalar(select(Recipient))
        assert recipient.unverified_used == 3
    finally:
        app.config["OFFER_BOOKINGS_PER_DAY"] = before


def test_caseworker_links_a_person(client, auth, session) -> None:
    household = HouseholdFactory()
    caseworker = session.get(User, household.created_by_id)
    from tests.factories import recipient_account

    recipient_account(phone="13511112222")
    household_id = household.id
    auth.login(caseworker)
    assert client.get("/work/recipients").status_code == 200
    bad = client.post(
        "/work/recipients", data={"phone": "13500000000", "household_id": household_id}
    )
    assert bad.status_code == 422
    ok = client.post(
        "/work/recipients", data={"phone": "13511112222", "household_id": household_id}
    )
    assert ok.status_code == 302
    assert session.scalar(select(Recipient.household_id)) == household_id


def test_provider_posts_offer_and_bad_input_is_kept(client, auth, session) -> None:
    _org, admin = restaurant()
    auth.login(admin)
    bad = client.post(
        "/organisation/offers/new",
        data={
            "kind": "meal",
            "title": "午餐X",
            "district_code": TIANHE,
            "place": "某路",
            "weekdays": ["1"],
            "window_start": "13:00",
            "window_end": "11:00",
            "portions_per_window": "20",
        },
    )
    assert bad.status_code == 422 and "午餐X" in bad.get_data(as_text=True)
    ok = client.post(
        "/organisation/offers/new",
        data={
            "kind": "meal",
            "title": "午餐Y",
            "district_code": TIANHE,
            "place": "某路",
            "weekdays": list("1234567"),
            "window_start": "00:00",
            "window_end": "23:59",
            "portions_per_window": "20",
        },
    )
    assert ok.status_code == 302
    offer = session.scalar(select(Offer).where(Offer.title == "午餐Y"))
    assert client.post(f"/offers/{offer.id}/pause").status_code == 302
    assert "午餐Y" in client.get("/organisation/offers").get_data(as_text=True)


def test_roles_are_checked(client, auth, session) -> None:
    donor = UserFactory()
    auth.login(donor)
    assert client.get("/provider/check").status_code == 403
    assert client.get("/organisation/offers/new").status_code == 403
    assert client.get("/admin/permits").status_code == 403
    assert client.get("/work/recipients").status_code == 403
    auth.logout()
    pending = member_of(OrganisationFactory())
    auth.login(pending)
    assert client.get("/organisation/offers/new").status_code == 403
    assert client.get("/organisation/offers").status_code == 200


def test_admin_reviews_permits(client, auth, session) -> None:
    org = OrganisationFactory(verified=True)
    admin = member_of(org)
    auth.login(admin)
    response = client.post(
        "/organisation/offers", data={"licence_expires_on": "2099-01-01", "hygiene_expires_on": ""}
    )
    assert response.status_code == 422
    response = client.post(
        "/organisation/offers",
        data={"licence_expires_on": "2036-01-01", "hygiene_expires_on": "2036-01-01"},
    )
    assert response.status_code == 302
    auth.logout()
    auth.login(UserFactory(admin=True))
    page = client.get("/admin/permits").get_data(as_text=True)
    assert org.name in page
    from app.offers.models import ProviderPermit

    permit_id = session.scalar(select(ProviderPermit.id))
    assert client.post(f"/admin/permits/{permit_id}/review").status_code == 302
    assert org.name not in client.get("/admin/permits").get_data(as_text=True)
