"""Real concurrency on offers: 200 bookings racing for 50 portions, two providers' devices
redeeming one code, an unverified person racing past their limit. Committed data in a
database of its own, real threads each with its own connection."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import time, timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import migrate
from app.accounts.models import MemberRole, Membership, Organisation, OrgKind, OrgStatus, Role, User
from app.errors import DomainError
from app.extensions import make_engine
from app.models_base import local_today, utcnow
from app.needs.models import Household, PersonGroup
from app.offers import services as offers
from app.offers.models import (
    Booking,
    BookingStatus,
    Offer,
    OfferKind,
    OfferSlot,
    ProviderPermit,
    Recipient,
)
from app.points.models import PointsEntry
from tests.conftest import fresh_database
from tests.test_races import _race

HOUSEHOLDS = 200
PORTIONS = 50


@pytest.fixture(scope="module")
def race_engine(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url = fresh_database(base, f"offer_race_{os.getpid()}", tmp_path_factory.mktemp("orace"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _restaurant(session: Session, portions: int) -> tuple[Offer, User, User]:
    tag = os.urandom(4).hex()
    org = Organisation(
        kind=OrgKind.COMPANY,
        name=f"餐厅{tag}",
        district_code="440106",
        status=OrgStatus.VERIFIED,
        verified_at=utcnow(),
    )
    admin = User(
        email=f"a{tag}@race.example", display_name="a", role=Role.COMPANY, password_hash="x"
    )
    cashier = User(
        email=f"c{tag}@race.example", display_name="c", role=Role.COMPANY, password_hash="x"
    )
    session.add_all(
        [
            org,
            admin,
            cashier,
            Membership(user=admin, organisation=org, role=MemberRole.ADMIN),
            Membership(user=cashier, organisation=org),
        ]
    )
    session.flush()
    session.add(
        ProviderPermit(
            organisation_id=org.id,
            licence_expires_on=local_today() + timedelta(days=90),
            hygiene_expires_on=local_today() + timedelta(days=90),
            updated_at=utcnow() - timedelta(days=1),
            reviewed_at=utcnow(),
        )
    )
    session.flush()
    session.refresh(admin)
    offer = offers.post_offer(
        session,
        admin,
        offers.OfferData(
            kind=OfferKind.MEAL,
            title="午餐",
            district_code="440106",
            place="天河路",
            weekdays="1234567",
            window_start=time(0, 0),
            window_end=time(23, 59),
            portions_per_window=portions,
        ),
    )
    return offer, admin, cashier


def _households(session: Session, n: int) -> tuple[User, list[Household]]:
    worker = User(
        email=f"cw{os.urandom(4).hex()}@race.example",
        display_name="cw",
        role=Role.CASEWORKER,
        area_code="440106",
        password_hash="x",
    )
    session.add(worker)
    session.flush()
    households = [
        Household(
            district_code="440106",
            created_by_id=worker.id,
            name=f"户{i}",
            id_number="44010619491231002X",
            phone="13900000000",
            address="某村",
            group=PersonGroup.ELDERLY,
            need_score=1,
        )
        for i in range(n)
    ]
    session.add_all(households)
    session.flush()
    return worker, households


def test_two_hundred_bookings_for_fifty_portions(app: Flask, race_engine: Engine) -> None:
    with app.app_context(), Session(race_engine) as session:
        offer, _admin, _cashier = _restaurant(session, PORTIONS)
        worker, households = _households(session, HOUSEHOLDS)
        session.commit()
        slot_id, worker_id = offer.slots[0].id, worker.id
        household_ids = [h.id for h in households]

    def attempt(i: int) -> str:
        with app.app_context(), Session(race_engine) as session:
            try:
                offers.book(
                    session,
                    session.get(User, worker_id),
                    session.get(OfferSlot, slot_id),
                    session.get(Household, household_ids[i]),
                )
                session.commit()
                return "booked"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    results = _race(HOUSEHOLDS, attempt)
    assert results == Counter({"booked": PORTIONS, "refused:409": HOUSEHOLDS - PORTIONS}), results
    with Session(race_engine) as session:
        slot = session.get(OfferSlot, slot_id)
        count = session.scalar(select(func.count(Booking.id)).where(Booking.slot_id == slot_id))
        assert slot.booked == PORTIONS == count
        codes = session.scalars(select(Booking.code).where(Booking.slot_id == slot_id)).all()
        assert len(set(codes)) == PORTIONS


def test_two_devices_redeem_the_same_code(app: Flask, race_engine: Engine) -> None:
    with app.app_context(), Session(race_engine) as session:
        offer, admin, cashier = _restaurant(session, 5)
        worker, households = _households(session, 3)
        # Several codes, several rounds: the window for a double redeem is small.
        bookings = [offers.book(session, worker, offer.slots[0], h) for h in households]
        session.commit()
        codes = [(b.code, b.id) for b in bookings]
        devices = [admin.id, cashier.id]

    for code, booking_id in codes:

        def attempt(i: int, code: str = code) -> str:
            with app.app_context(), Session(race_engine) as session:
                try:
                    offers.redeem_code(session, session.get(User, devices[i % 2]), code)
                    session.commit()
                    return "redeemed"
                except DomainError as exc:
                    session.rollback()
                    return f"refused:{exc.status}"

        results = _race(2, attempt)
        assert results == Counter({"redeemed": 1, "refused:409": 1}), results
        with Session(race_engine) as session:
            assert session.get(Booking, booking_id).status is BookingStatus.REDEEMED
            awards = session.scalar(
                select(func.count(PointsEntry.id)).where(
                    PointsEntry.source_kind == "pickup", PointsEntry.source_id == booking_id
                )
            )
            assert awards == 1


def test_unverified_person_cannot_race_past_three(app: Flask, race_engine: Engine) -> None:
    with app.app_context(), Session(race_engine) as session:
        offer, _admin, _cashier = _restaurant(session, 50)
        app.config["OFFER_BOOKINGS_PER_DAY"], before = 100, app.config["OFFER_BOOKINGS_PER_DAY"]
        user = offers.register_recipient(
            session,
            f"p{os.urandom(4).hex()}@race.example",
            "a-good-pass-123",
            "阿明",
            f"135{int.from_bytes(os.urandom(3), 'big') % 10**8:08d}",
            "440106",
        )
        session.commit()
        slot_id, user_id = offer.slots[0].id, user.id
    try:

        def attempt(i: int) -> str:
            with app.app_context(), Session(race_engine) as session:
                try:
                    offers.book(
                        session, session.get(User, user_id), session.get(OfferSlot, slot_id)
                    )
                    session.commit()
                    return "booked"
                except DomainError as exc:
                    session.rollback()
                    return f"refused:{exc.status}"

        results = _race(12, attempt)
        assert results["booked"] == 3, results
        with Session(race_engine) as session:
            recipient = session.scalar(select(Recipient).where(Recipient.user_id == user_id))
            assert recipient.unverified_used == 3
    finally:
        app.config["OFFER_BOOKINGS_PER_DAY"] = before
