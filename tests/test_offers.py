"""Offers and pickup codes: posting, booking, limits, checking, redeeming, expiry, permits."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from app.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from app.models_base import local_today, utcnow
from app.offers import services as offers
from app.offers.handlers import sweep_offers
from app.offers.models import (
    Booking,
    BookingStatus,
    OfferKind,
    OfferSlot,
    OfferStatus,
    PauseReason,
)
from app.points import services as points
from app.points.services import Owner
from app.statemachine import REGISTRY
from tests.factories import (
    TIANHE,
    YUEXIU,
    HouseholdFactory,
    OrganisationFactory,
    UserFactory,
    meal_offer,
    member_of,
    recipient_account,
    restaurant,
    reviewed_permit,
)


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English whatever catalogs are compiled."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


def _first_slot(offer) -> OfferSlot:
    return offer.slots[0]


def _caseworker_and_household(district: str = TIANHE):
    household = HouseholdFactory(district_code=district)
    from app.accounts.models import User
    from app.extensions import db

    return db.session.get(User, household.created_by_id), household


def test_every_status_has_a_machine() -> None:
    assert {"offer", "offer_booking"} <= set(REGISTRY)


def test_verified_restaurant_posts_lunch_with_windows(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin, portions=20)
    assert offer.status is OfferStatus.ACTIVE
    assert offer.slots and all(s.capacity == 20 and s.booked == 0 for s in offer.slots)
    # Opening windows again creates nothing new.
    assert offers.open_meal_windows(session, offer) == 0


def test_unverified_organisation_cannot_post(session) -> None:
    org = OrganisationFactory()  # pending
    with pytest.raises(NotAllowed):
        meal_offer(member_of(org))


def test_meal_offer_needs_a_reviewed_permit(session) -> None:
    org = OrganisationFactory(verified=True)
    admin = member_of(org)
    with pytest.raises(NotAllowed):
        meal_offer(admin)
    offers.save_permit(
        session, admin, local_today() + timedelta(days=30), local_today() + timedelta(days=30)
    )
    with pytest.raises(NotAllowed):  # not yet reviewed by an admin
        meal_offer(admin)
    permit = offers.permits_due_for_review(session)[0]
    offers.review_permit(session, permit, UserFactory(admin=True))
    assert meal_offer(admin).status is OfferStatus.ACTIVE


def test_bad_offer_fields_are_named(session) -> None:
    _org, admin = restaurant()
    with pytest.raises(ValidationFailed) as error:
        meal_offer(admin, portions=0, weekdays="", window_end=time(0, 0))
    assert {"portions_per_window", "weekdays", "window_end"} <= set(error.value.errors)


def test_goods_and_service_offers(session) -> None:
    _org, admin = restaurant()
    goods = offers.post_offer(
        session,
        admin,
        offers.OfferData(
            kind=OfferKind.GOODS,
            title="大米",
            district_code=TIANHE,
            place="天河区慈善驿站",
            item="大米",
            quantity=30,
            unit="袋",
            expires_on=local_today() + timedelta(days=10),
        ),
    )
    assert [s.capacity for s in goods.slots] == [30]
    service = offers.post_offer(
        session,
        admin,
        offers.OfferData(
            kind=OfferKind.SERVICE,
            title="义剪",
            district_code=TIANHE,
            place="天河区社区中心",
            service_date=local_today() + timedelta(days=2),
            window_start=time(9, 0),
            slot_minutes=30,
            slot_count=4,
            places_per_slot=2,
        ),
    )
    assert len(service.slots) == 4
    assert service.slots[1].starts_at - service.slots[0].starts_at == timedelta(minutes=30)
    assert "place" in offers.what_text(service)


def test_caseworker_books_and_provider_redeems_once_and_earns_points(session) -> None:
    org, admin = restaurant()
    offer = meal_offer(admin)
    caseworker, household = _caseworker_and_household()
    booking = offers.book(session, caseworker, _first_slot(offer), household)
    assert booking.status is BookingStatus.BOOKED and len(booking.code) == offers.CODE_LENGTH
    assert _first_slot(offer).booked == 1

    check = offers.check_code(session, admin, booking.code.lower())
    assert check.valid and check.message.startswith("Valid: 1 meal")
    before = points.balance(session, Owner(org_id=org.id))
    done = offers.redeem_code(session, admin, booking.code)
    assert done.state == "redeemed"
    assert points.balance(session, Owner(org_id=org.id)) == before + 2
    with pytest.raises(Conflict):
        offers.redeem_code(session, admin, booking.code)
    assert offers.check_code(session, admin, booking.code).state == "used"
    # Points only once, whatever happens next.
    assert points.balance(session, Owner(org_id=org.id)) == before + 2


def test_another_provider_cannot_see_or_use_the_code(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin)
    caseworker, household = _caseworker_and_household()
    booking = offers.book(session, caseworker, _first_slot(offer), household)
    _other, other_admin = restaurant()
    with pytest.raises(NotFound):
        offers.check_code(session, other_admin, booking.code)
    with pytest.raises(NotFound):
        offers.redeem_code(session, other_admin, booking.code)
    with pytest.raises(NotAllowed):
        offers.check_code(session, UserFactory(), booking.code)


def test_caseworker_only_for_households_of_their_area(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin)
    caseworker, _household = _caseworker_and_household()
    _other_worker, elsewhere = _caseworker_and_household(YUEXIU)
    with pytest.raises(NotAllowed):
        offers.book(session, caseworker, _first_slot(offer), elsewhere)
    with pytest.raises(NotAllowed):
        offers.book(session, UserFactory(), _first_slot(offer), elsewhere)  # a donor


def test_never_more_than_the_portions(session, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "OFFER_BOOKINGS_PER_DAY", 100)
    _org, admin = restaurant()
    offer = meal_offer(admin, portions=2)
    slot = _first_slot(offer)
    caseworker, _h = _caseworker_and_household()
    for _ in range(2):
        offers.book(session, caseworker, slot, HouseholdFactory(created_by_id=caseworker.id))
    with pytest.raises(Conflict):
        offers.book(session, caseworker, slot, HouseholdFactory(created_by_id=caseworker.id))
    session.refresh(slot)
    assert slot.booked == 2


def test_household_limits_per_day(session, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "OFFER_BOOKINGS_PER_DAY", 1)
    _org, admin = restaurant()
    first, second = meal_offer(admin), meal_offer(admin, title="晚餐")
    caseworker, household = _caseworker_and_household()
    offers.book(session, caseworker, _first_slot(first), household)
    with pytest.raises(Conflict, match="a day"):
        offers.book(session, caseworker, _first_slot(second), household)


def test_three_pickups_without_proof_then_linking(session, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "OFFER_BOOKINGS_PER_DAY", 100)
    monkeypatch.setitem(app.config, "OFFER_BOOKINGS_PER_WEEK", 100)
    _org, admin = restaurant()
    offer = meal_offer(admin)
    person = recipient_account(phone="13800138000")
    slot = _first_slot(offer)
    bookings = [offers.book(session, person, slot) for _ in range(3)]
    assert all(b.unverified and b.household_id is None for b in bookings)
    with pytest.raises(NotAllowed, match="link"):
        offers.book(session, person, slot)
    # Cancelling one gives its pickup back.
    offers.cancel_booking(session, bookings[0], person)
    offers.book(session, person, slot)
    with pytest.raises(NotAllowed):
        offers.book(session, person, slot)

    caseworker, household = _caseworker_and_household()
    with pytest.raises(ValidationFailed):
        offers.link_recipient(session, caseworker, "13900000000", household)
    offers.link_recipient(session, caseworker, "+86 138-0013-8000", household)
    linked = offers.book(session, person, slot)
    assert linked.household_id == household.id and not linked.unverified


def test_one_account_per_phone(session) -> None:
    recipient_account(phone="13700000001")
    with pytest.raises(ValidationFailed) as error:
        recipient_account(phone="137 0000 0001")
    assert "phone" in error.value.errors


def test_codes_reveal_nothing_and_are_unique(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin, portions=50)
    caseworker, _h = _caseworker_and_household()
    codes = set()
    for _ in range(10):
        household = HouseholdFactory(created_by_id=caseworker.id)
        codes.add(offers.book(session, caseworker, _first_slot(offer), household).code)
    assert len(codes) == 10
    assert all(set(c) <= set(offers.CODE_ALPHABET) for c in codes)
    check = offers.check_code(session, admin, next(iter(codes)))
    text = repr(check)
    assert "户主" not in text and "household" not in text.lower()


def test_no_show_frees_the_portion_after_the_window(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin)
    caseworker, household = _caseworker_and_household()
    slot = _first_slot(offer)
    booking = offers.book(session, caseworker, slot, household)
    assert offers.expire_unused_codes(session, utcnow()) == 0
    later = booking.expires_at + timedelta(minutes=1)
    report = sweep_offers(session, later)
    assert "codes expired: 1" in report
    session.refresh(booking)
    session.refresh(slot)
    assert booking.status is BookingStatus.NO_SHOW and slot.booked == 0
    assert offers.check_code(session, admin, booking.code).state == "expired"
    with pytest.raises(Conflict):
        offers.redeem_code(session, admin, booking.code)


def test_code_for_a_later_window_is_not_valid_yet(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin)
    caseworker, household = _caseworker_and_household()
    later_slot = offer.slots[-1]
    booking = offers.book(session, caseworker, later_slot, household)
    if later_slot.starts_at - utcnow() > timedelta(hours=1):
        assert offers.check_code(session, admin, booking.code).state == "early"
        with pytest.raises(Conflict):
            offers.redeem_code(session, admin, booking.code)


def test_lapsed_permit_pauses_meal_offers_until_admin_review(session, smtp) -> None:
    org, admin = restaurant()
    offer = meal_offer(admin)
    permit = offers.permit_of(session, org)
    permit.hygiene_expires_on = local_today() - timedelta(days=1)
    session.flush()
    report = sweep_offers(session, utcnow())
    assert "offers paused: 1" in report
    session.refresh(offer)
    assert offer.status is OfferStatus.PAUSED and offer.pause_reason is PauseReason.PERMIT
    with pytest.raises(NotAllowed):
        offers.change_offer(session, offer, admin, "resume")
    assert permit in offers.permits_due_for_review(session)
    from app.notifications.models import Notification

    assert session.scalar(
        select(Notification).where(
            Notification.user_id == admin.id, Notification.kind == "offer_paused"
        )
    )
    admin_user = UserFactory(admin=True)
    with pytest.raises(Conflict):  # still lapsed
        offers.review_permit(session, permit, admin_user)
    offers.save_permit(
        session, admin, local_today() + timedelta(days=300), local_today() + timedelta(days=300)
    )
    assert offers.review_permit(session, permit, admin_user) == 1
    session.refresh(offer)
    assert offer.status is OfferStatus.ACTIVE


def test_provider_pauses_resumes_ends(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin)
    offers.change_offer(session, offer, admin, "pause")
    caseworker, household = _caseworker_and_household()
    with pytest.raises(Conflict):
        offers.book(session, caseworker, _first_slot(offer), household)
    offers.change_offer(session, offer, admin, "resume")
    offers.change_offer(session, offer, admin, "end")
    assert offer.status is OfferStatus.ENDED
    with pytest.raises(NotAllowed):
        offers.change_offer(session, meal_offer(admin), UserFactory(), "pause")
    history = offers.OFFER.history(session, offer)
    assert [e.action for e in history] == ["pause", "resume", "end"]


def test_search_by_place_kind_and_words(session) -> None:
    _org, admin = restaurant()
    meal_offer(admin, title="福田爱心午餐", district_code="440304")
    meal_offer(admin, title="天河午餐")
    found, total = offers.search_offers(session, offers.OfferFilters(district="440304"))
    assert total == 1 and found[0].title == "福田爱心午餐"
    found, _ = offers.search_offers(session, offers.OfferFilters(city="440300", q="爱心"))
    assert [o.title for o in found] == ["福田爱心午餐"]
    found, _ = offers.search_offers(session, offers.OfferFilters(kind=OfferKind.GOODS))
    assert found == []


def test_uptake_counts(session) -> None:
    _org, admin = restaurant()
    offer = meal_offer(admin)
    caseworker, household = _caseworker_and_household()
    booking = offers.book(session, caseworker, _first_slot(offer), household)
    offers.redeem_code(session, admin, booking.code)
    counts = offers.uptake(session, [offer])[offer.id]
    assert counts.redeemed == 1 and counts.booked == 0
    assert session.scalar(select(Booking.status).where(Booking.id == booking.id)) is (
        BookingStatus.REDEEMED
    )


def test_reviewed_permit_factory_is_valid(session) -> None:
    org = OrganisationFactory(verified=True)
    assert reviewed_permit(org).valid(local_today())
