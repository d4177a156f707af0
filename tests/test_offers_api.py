"""The offers API: list and search, book, check and redeem; roles; nothing of the household."""

from __future__ import annotations

from app.accounts.models import User
from app.accounts.services import issue_token
from tests.factories import (
    HouseholdFactory,
    UserFactory,
    meal_offer,
    recipient_account,
    restaurant,
)


def _bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user)}", "Accept-Language": "en"}


def test_list_and_get_offers(client, session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin, title="接口午餐", district_code="440304")
    body = client.get("/api/v1/offers?city=440300&kind=meal&q=接口").json
    assert body["total"] == 1 and body["items"][0]["title"] == "接口午餐"
    assert body["items"][0]["windows"][0]["left"] == 20
    assert client.get("/api/v1/offers?district=449999").json["total"] == 0
    assert client.get("/api/v1/offers?kind=nonsense").status_code == 422
    one = client.get(f"/api/v1/offers/{offer.id}").json
    assert one["provider"] == offer.organisation.name
    assert client.get("/api/v1/offers/2147483647").status_code == 404


def test_book_check_redeem_through_the_api(client, session) -> None:
    org, provider = restaurant()
    offer = meal_offer(provider)
    household = HouseholdFactory(name="接口户主甲", phone="13987654321")
    caseworker = session.get(User, household.created_by_id)
    offer_id, slot_id, household_id = offer.id, offer.slots[0].id, household.id
    booked = client.post(
        f"/api/v1/offers/{offer_id}/bookings",
        json={"slot_id": slot_id, "household_id": household_id},
        headers=_bearer(caseworker),
    )
    assert booked.status_code == 201, booked.json
    code = booked.json["code"]
    assert "household_id" not in booked.json
    assert (
        client.post(
            f"/api/v1/offers/{offer_id}/bookings",
            json={"slot_id": slot_id},
            headers=_bearer(caseworker),
        ).status_code
        == 404
    )
    donor = UserFactory()
    refused = client.post(
        f"/api/v1/offers/{offer_id}/bookings", json={"slot_id": slot_id}, headers=_bearer(donor)
    )
    assert refused.status_code == 403
    assert client.get(f"/api/v1/pickups/{code}", headers=_bearer(donor)).status_code == 403
    assert client.get(f"/api/v1/pickups/{code}").status_code == 401

    check = client.get(f"/api/v1/pickups/{code}", headers=_bearer(provider))
    assert check.status_code == 200
    assert check.json["valid"] is True and check.json["what"] == "1 meal"
    text = check.get_data(as_text=True)
    assert "接口户主甲" not in text and "13987654321" not in text
    assert set(check.json) == {"valid", "state", "what", "when", "message"}
    redeemed = client.post(f"/api/v1/pickups/{code}", headers=_bearer(provider))
    assert redeemed.status_code == 200 and redeemed.json["state"] == "redeemed"
    assert client.post(f"/api/v1/pickups/{code}", headers=_bearer(provider)).status_code == 409
    _other, other_provider = restaurant()
    assert client.get(f"/api/v1/pickups/{code}", headers=_bearer(other_provider)).status_code == 404
    del org


def test_unverified_person_books_three_through_the_api(client, session, app) -> None:
    before = app.config["OFFER_BOOKINGS_PER_DAY"]
    app.config["OFFER_BOOKINGS_PER_DAY"] = 10
    try:
        _org, provider = restaurant()
        offer = meal_offer(provider)
        person = recipient_account()
        url, slot_id = f"/api/v1/offers/{offer.id}/bookings", offer.slots[0].id
        for _ in range(3):
            response = client.post(url, json={"slot_id": slot_id}, headers=_bearer(person))
            assert response.status_code == 201 and response.json["unverified"] is True
        fourth = client.post(url, json={"slot_id": slot_id}, headers=_bearer(person))
        assert fourth.status_code == 403 and "link" in fourth.json["message"]
    finally:
        app.config["OFFER_BOOKINGS_PER_DAY"] = before


def test_offers_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/offers", "/offers/{offer_id}", "/offers/{offer_id}/bookings"} <= set(paths)
    assert {"get", "post"} <= set(paths["/pickups/{code}"])
