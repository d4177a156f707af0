"""The district resource pool: reserve part of an item for a household, hand it out at the
station against the code once; stock never overdrawn; cancelled and expired reservations
go back; expired goods leave the list; real races on both databases."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import migrate
from app.accounts.models import User
from app.donations import services as donations
from app.donations.models import Donation, DonationStatus
from app.errors import Conflict, DomainError, NotAllowed, NotFound
from app.extensions import db, make_engine
from app.models_base import local_today, utcnow
from app.needs.models import Household
from app.offers import pool
from app.offers.models import PoolStock, ReservationStatus
from tests.conftest import fresh_database
from tests.factories import YUEXIU, HouseholdFactory, OrganisationFactory, member_of
from tests.test_races import _race


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


def pooled(caseworker: User, quantity: int = 10, item: str = "大米") -> Donation:
    """A company's donation into the caseworker's district pool, received."""
    company = member_of(OrganisationFactory(verified=True))
    logged = donations.log_donation(
        db.session,
        company,
        donations.DonationData(
            item=item, quantity=quantity, value_yuan=100, district_code=caseworker.area_code
        ),
    )
    donations.receive_donation(db.session, logged.donation, caseworker)
    return logged.donation


def _worker_and_household(session):
    household = HouseholdFactory()
    return session.get(User, household.created_by_id), household


def test_reserve_hand_out_once(session) -> None:
    caseworker, household = _worker_and_household(session)
    donation = pooled(caseworker, quantity=10)
    assert [i.donation.id for i in pool.pool_items(session, caseworker)] == [donation.id]
    reservation = pool.reserve(session, caseworker, donation, household, 4)
    assert pool.pool_items(session, caseworker)[0].left == 6
    done = pool.hand_out(session, caseworker, reservation.code.lower())
    assert done.status is ReservationStatus.HANDED_OUT
    with pytest.raises(Conflict):
        pool.hand_out(session, caseworker, reservation.code)
    assert [e.action for e in pool.RESERVATION.history(session, reservation)] == ["hand_out"]


def test_stock_is_never_overdrawn(session) -> None:
    caseworker, household = _worker_and_household(session)
    donation = pooled(caseworker, quantity=5)
    pool.reserve(session, caseworker, donation, household, 3)
    with pytest.raises(Conflict):
        pool.reserve(session, caseworker, donation, household, 3)
    pool.reserve(session, caseworker, donation, household, 2)
    assert pool.pool_items(session, caseworker) == []  # nothing left: off the list


def test_cancel_and_expiry_give_back(session) -> None:
    caseworker, household = _worker_and_household(session)
    donation = pooled(caseworker, quantity=5)
    first = pool.reserve(session, caseworker, donation, household, 5)
    pool.cancel_reservation(session, caseworker, first)
    second = pool.reserve(session, caseworker, donation, household, 5)
    assert pool.expire_reservations(session, utcnow()) == 0
    assert pool.expire_reservations(session, second.expires_at + timedelta(seconds=1)) == 1
    assert session.get(PoolStock, donation.id, populate_existing=True).reserved == 0
    with pytest.raises(Conflict):
        pool.hand_out(session, caseworker, second.code)


def test_expired_goods_leave_the_pool(session) -> None:
    caseworker, household = _worker_and_household(session)
    donation = pooled(caseworker)
    pool.set_expiry(session, caseworker, donation, local_today() - timedelta(days=1))
    assert pool.pool_items(session, caseworker) == []
    with pytest.raises(Conflict):
        pool.reserve(session, caseworker, donation, household, 1)


def test_only_the_area_reserves_and_hands_out(session) -> None:
    caseworker, household = _worker_and_household(session)
    donation = pooled(caseworker)
    reservation = pool.reserve(session, caseworker, donation, household, 1)
    elsewhere, other_household = _worker_and_household(session)
    other = session.get(User, HouseholdFactory(district_code=YUEXIU).created_by_id)
    with pytest.raises(NotAllowed):
        pool.reserve(session, other, donation, household, 1)
    with pytest.raises(NotFound):
        pool.hand_out(session, other, reservation.code)
    assert pool.pool_items(session, other) == []
    del elsewhere, other_household


def test_pool_page_and_api(client, auth, session) -> None:
    from app.accounts.services import issue_token

    caseworker, household = _worker_and_household(session)
    donation = pooled(caseworker, item="棉被")
    donation_id, household_id = donation.id, household.id
    headers = {"Authorization": f"Bearer {issue_token(caseworker)}"}
    api = client.get("/api/v1/pool", headers=headers)
    assert api.status_code == 200 and api.json["items"][0]["item"] == "棉被"
    assert "household" not in api.get_data(as_text=True)
    auth.login(caseworker)
    assert client.get("/work/pool").status_code == 200
    response = client.post(
        "/work/pool",
        data={
            "action": "reserve",
            "donation_id": donation_id,
            "household_id": household_id,
            "quantity": 2,
        },
    )
    assert response.status_code == 302
    code = session.scalar(select(pool.PoolReservation.code))
    assert client.post("/work/pool", data={"action": "hand_out", "code": code}).status_code == 302
    again = client.post("/work/pool", data={"action": "hand_out", "code": code})
    assert again.status_code == 409


# --- real races ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def race_engine(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url = fresh_database(base, f"pool_race_{os.getpid()}", tmp_path_factory.mktemp("prace"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def test_twenty_reservations_race_for_five(app: Flask, race_engine: Engine) -> None:
    from tests.test_offers_races import _households

    with app.app_context(), Session(race_engine) as session:
        worker, households = _households(session, 20)
        donation = Donation(
            organisation_id=_company(session),
            logged_by_id=worker.id,
            district_code="440106",
            item="米",
            quantity=5,
            value_yuan=50,
            status=DonationStatus.RECEIVED,
            received_at=utcnow(),
        )
        session.add(donation)
        session.commit()
        ids = [h.id for h in households]
        worker_id, donation_id = worker.id, donation.id

    def attempt(i: int) -> str:
        with app.app_context(), Session(race_engine) as session:
            try:
                pool.reserve(
                    session,
                    session.get(User, worker_id),
                    session.get(Donation, donation_id),
                    session.get(Household, ids[i]),
                    1,
                )
                session.commit()
                return "reserved"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    results = _race(20, attempt)
    assert results == Counter({"reserved": 5, "refused:409": 15}), results
    with Session(race_engine) as session:
        assert session.get(PoolStock, donation_id).reserved == 5
        codes = session.scalars(
            select(pool.PoolReservation.code).where(pool.PoolReservation.donation_id == donation_id)
        ).all()
    # Two stations hand out the same code at once: one wins.
    code = codes[0]

    def hand(i: int) -> str:
        with app.app_context(), Session(race_engine) as session:
            try:
                pool.hand_out(session, session.get(User, worker_id), code)
                session.commit()
                return "handed"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    assert _race(2, hand) == Counter({"handed": 1, "refused:409": 1})


def _company(session: Session) -> int:
    from app.accounts.models import Organisation, OrgKind, OrgStatus

    org = Organisation(
        kind=OrgKind.COMPANY,
        name=f"公司{os.urandom(3).hex()}",
        district_code="440106",
        status=OrgStatus.VERIFIED,
        verified_at=utcnow(),
    )
    session.add(org)
    session.flush()
    return org.id
