"""Real concurrency: many people racing for the same wish or the same shift places.

These tests use committed data in a database of their own (not the rolled-back test
transaction), real threads each with its own connection, and a real HTTP server.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import time, timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import migrate
from app.accounts.models import MemberRole, Membership, Organisation, OrgKind, OrgStatus, Role, User
from app.claims import services
from app.claims.models import Claim
from app.errors import DomainError
from app.extensions import make_engine
from app.models_base import local_today, utcnow
from app.needs.models import (
    CareCategory,
    FarmHelp,
    Household,
    MicroWish,
    Need,
    NeedState,
    PersonGroup,
    Urgency,
)
from app.shifts import services as shift_services
from app.shifts.models import Shift, ShiftSignup, SignupStatus
from tests.conftest import fresh_database

N = 50


@pytest.fixture(scope="module")
def race_engine(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url = fresh_database(base, f"race_{os.getpid()}", tmp_path_factory.mktemp("race"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _user(session: Session, email: str, role: Role, area: str | None = None) -> User:
    user = User(email=email, display_name=email, role=role, area_code=area, password_hash="x")
    session.add(user)
    return user


def _published(session: Session, cls: type[Need], **extra: object) -> tuple[Need, User]:
    worker = _user(session, f"cw{os.urandom(4).hex()}@race.example", Role.CASEWORKER, "440106")
    session.flush()
    household = Household(
        district_code="440106",
        created_by_id=worker.id,
        name="户主",
        id_number="44010619491231002X",
        phone="13900000000",
        address="某村1号",
        group=PersonGroup.ELDERLY,
        need_score=1,
    )
    session.add(household)
    session.flush()
    need = cls(
        household_id=household.id,
        created_by_id=worker.id,
        district_code="440106",
        title="赛跑测试",
        story="并发测试用的需求。",
        category=CareCategory.LIVING,
        urgency=Urgency.NORMAL,
        approx_lat=23.125,
        approx_lng=113.375,
        state=NeedState.PUBLISHED,
        published_at=utcnow(),
        **extra,
    )
    session.add(need)
    session.flush()
    return need, worker


def _race(n: int, attempt: Callable[[int], str]) -> Counter[str]:
    """Run ``attempt(i)`` on n threads released at the same instant."""
    barrier = threading.Barrier(n)
    results: list[str] = [""] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt(i)
        except Exception as exc:  # a crash is a result the test must see, not lose
            results[i] = f"crash:{type(exc).__name__}:{exc}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(results)


def test_fifty_threads_claim_one_wish(app: Flask, race_engine: Engine) -> None:
    with Session(race_engine) as session:
        need, _worker = _published(
            session, MicroWish, item="电饭煲", quantity=1, estimated_value_yuan=300
        )
        donors = [_user(session, f"d{i}.{need.id}@race.example", Role.DONOR) for i in range(N)]
        session.commit()
        need_id, donor_ids = need.id, [d.id for d in donors]

    def attempt(i: int) -> str:
        with app.app_context(), Session(race_engine) as session:
            try:
                services.claim_need(
                    session, session.get(Need, need_id), session.get(User, donor_ids[i])
                )
                session.commit()
                return "won"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    results = _race(N, attempt)
    assert results == Counter({"won": 1, "refused:409": N - 1}), results
    with Session(race_engine) as session:
        claims = session.scalars(select(Claim).where(Claim.need_id == need_id)).all()
        need = session.get(Need, need_id)
        assert len(claims) == 1
        assert need.state is NeedState.CLAIMED and need.claimant_id == claims[0].claimant_id
        claim_events = [e for e in need.events if e.action == "claim"]
        assert len(claim_events) == 1


def test_fifty_teams_race_for_ten_places(app: Flask, race_engine: Engine) -> None:
    today = local_today()
    with Session(race_engine) as session:
        need, worker = _published(
            session,
            FarmHelp,
            task="插秧",
            window_start=today,
            window_end=today + timedelta(days=1),
            volunteers_needed=10,
            hours_per_volunteer=4,
        )
        shift = Shift(
            need_id=need.id,
            day=today,
            start_time=time(8),
            end_time=time(12),
            places=10,
            checkin_code="ABC234",
            created_by_id=worker.id,
        )
        session.add(shift)
        leaders = []
        for i in range(N):
            org = Organisation(
                kind=OrgKind.TEAM,
                name=f"队{i}",
                district_code="440106",
                status=OrgStatus.VERIFIED,
                verified_at=utcnow(),
            )
            leader = _user(session, f"t{i}.{need.id}@race.example", Role.TEAM)
            mate = _user(session, f"m{i}.{need.id}@race.example", Role.TEAM)
            session.add_all(
                [
                    org,
                    Membership(user=leader, organisation=org, role=MemberRole.ADMIN),
                    Membership(user=mate, organisation=org),
                ]
            )
            leaders.append((leader, mate))
        session.commit()
        shift_id = shift.id
        teams = [(leader.id, mate.id) for leader, mate in leaders]

    def attempt(i: int) -> str:
        leader_id, mate_id = teams[i]
        # Some teams ask for one place, some for two.
        ids = [leader_id] if i % 2 else [leader_id, mate_id]
        with app.app_context(), Session(race_engine) as session:
            try:
                shift_services.sign_up(
                    session, session.get(Shift, shift_id), session.get(User, leader_id), ids
                )
                session.commit()
                return f"booked:{len(ids)}"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    results = _race(N, attempt)
    assert not [r for r in results if r.startswith("crash")], results
    with Session(race_engine) as session:
        shift = session.get(Shift, shift_id)
        booked = session.scalar(
            select(func.count(ShiftSignup.id)).where(
                ShiftSignup.shift_id == shift_id, ShiftSignup.status == SignupStatus.BOOKED
            )
        )
        assert shift.places_taken <= 10
        assert booked == shift.places_taken
        assert booked == sum(
            int(r.split(":")[1]) for r in results.elements() if r.startswith("booked")
        )
        assert shift.places_taken >= 9  # the places did not go unused for no reason
        assert session.get(Need, shift.need_id).state is NeedState.CLAIMED


def _post(url: str, body: dict[str, object], token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _get(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.live
def test_fifty_http_clients_claim_one_wish(live_server: str) -> None:
    api = f"{live_server}/api/v1"
    tokens = []
    for i in range(1, N + 1):
        status, body = _post(
            f"{api}/auth/token",
            {"email": f"donor{i}@demo.example", "password": "shanlian-demo-2026"},
        )
        assert status == 201, body
        tokens.append(body["token"])
    open_wishes = _get(f"{api}/needs?kind=micro_wish&status=published&per_page=100")["items"]
    need_id = open_wishes[-1]["id"]

    def attempt(i: int) -> str:
        status, body = _post(f"{api}/needs/{need_id}/claims", {"method": "handover"}, tokens[i])
        if status == 201:
            return "won"
        assert body["message"], body  # a clear message, in JSON
        return f"refused:{status}"

    results = _race(N, attempt)
    assert results == Counter({"won": 1, "refused:409": N - 1}), results
    assert _get(f"{api}/needs/{need_id}")["status"] == "claimed"
    holders = [
        i
        for i in range(N)
        if any(c["need_id"] == need_id for c in _get(f"{api}/me/claims", tokens[i])["items"])
    ]
    assert len(holders) == 1


def _grant(session: Session, user: User, amount: int) -> None:
    from app.points.models import EntryKind, PointsEntry

    session.add(
        PointsEntry(
            owner_user_id=user.id,
            amount=amount,
            kind=EntryKind.EARN,
            rule="grant",
            reason="test grant",
            source_kind="test",
            source_id=user.id,
            dedupe_key=f"grant:{user.id}",
        )
    )


def test_fifty_redemptions_for_five_in_stock(app: Flask, race_engine: Engine) -> None:
    from app.points import services as points
    from app.points.models import Redemption, Reward

    with Session(race_engine) as session:
        reward = Reward(name_zh="花生油", name_en="Oil", price_points=100, stock=5)
        session.add(reward)
        people = [
            _user(session, f"r{i}.{os.urandom(3).hex()}@race.example", Role.DONOR) for i in range(N)
        ]
        session.flush()
        for person in people:
            _grant(session, person, 150)
        session.commit()
        reward_id, ids = reward.id, [p.id for p in people]

    def attempt(i: int) -> str:
        with app.app_context(), Session(race_engine) as session:
            try:
                points.redeem(session, session.get(Reward, reward_id), session.get(User, ids[i]))
                session.commit()
                return "redeemed"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    results = _race(N, attempt)
    assert results == Counter({"redeemed": 5, "refused:409": N - 5}), results
    with Session(race_engine) as session:
        assert session.get(Reward, reward_id).stock == 0
        winners = set(
            session.scalars(
                select(Redemption.owner_user_id).where(Redemption.reward_id == reward_id)
            )
        )
        assert len(winners) == 5
        for user_id in ids:
            expected = 50 if user_id in winners else 150
            assert points.balance(session, points.Owner(user_id=user_id)) == expected


def test_one_owner_racing_own_balance(app: Flask, race_engine: Engine) -> None:
    """Ten redemptions at once by one person who can afford three: exactly three, and the
    balance never goes below zero."""
    from app.points import services as points
    from app.points.models import Reward

    with Session(race_engine) as session:
        reward = Reward(name_zh="大米", name_en="Rice", price_points=100, stock=50)
        session.add(reward)
        person = _user(session, f"solo.{os.urandom(3).hex()}@race.example", Role.DONOR)
        session.flush()
        _grant(session, person, 300)
        session.commit()
        reward_id, person_id = reward.id, person.id

    def attempt(_i: int) -> str:
        with app.app_context(), Session(race_engine) as session:
            try:
                points.redeem(session, session.get(Reward, reward_id), session.get(User, person_id))
                session.commit()
                return "redeemed"
            except DomainError as exc:
                session.rollback()
                return f"refused:{exc.status}"

    results = _race(10, attempt)
    assert results == Counter({"redeemed": 3, "refused:409": 7}), results
    with Session(race_engine) as session:
        assert points.balance(session, points.Owner(user_id=person_id)) == 0
        assert session.get(Reward, reward_id).stock == 47


def test_two_donors_race_for_the_last_fifty(app: Flask, race_engine: Engine) -> None:
    """Both pay for the last ¥50; their webhooks arrive at the same moment. The need ends
    funded exactly, and the excess is marked for refund exactly once."""
    from app.payments import services as payments
    from app.payments.models import CashDonation, CashStatus

    with Session(race_engine) as session:
        need, _worker = _published(
            session, MicroWish, item="轮椅", quantity=1, estimated_value_yuan=300
        )
        donors = [
            _user(session, f"p{i}.{os.urandom(3).hex()}@race.example", Role.DONOR) for i in range(3)
        ]
        session.flush()
        gifts = []
        for i, (donor, amount) in enumerate(zip(donors, (25_000, 5_000, 5_000), strict=True)):
            gift = CashDonation(
                need_id=need.id,
                donor_id=donor.id,
                amount_minor=amount,
                currency="cny",
                # The first gift is already paid; the other two race for what is left.
                status=CashStatus.PAID if i == 0 else CashStatus.PENDING,
                checkout_session_id=f"cs_race_{need.id}_{i}",
                receipt_number=f"R{need.id}x{i}",
            )
            session.add(gift)
            gifts.append(gift)
        session.commit()
        need_id = need.id
        racing = [(g.id, g.checkout_session_id) for g in gifts[1:]]

    def attempt(i: int) -> str:
        donation_id, session_id = racing[i]
        event = {
            "id": f"evt_race_{session_id}",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": session_id,
                    "payment_status": "paid",
                    "payment_intent": f"pi_{session_id}",
                    "metadata": {"donation_id": str(donation_id)},
                }
            },
        }
        with app.app_context(), Session(race_engine) as session:
            payments.handle_event(session, event)
            session.commit()
            return "applied"

    results = _race(2, attempt)
    assert results == Counter({"applied": 2}), results
    with Session(race_engine) as session:
        need = session.get(Need, need_id)
        assert payments.funded_minor(session, need) == 30_000
        raced = [session.get(CashDonation, donation_id) for donation_id, _ in racing]
        assert all(g.status is CashStatus.PAID for g in raced)
        assert sorted(g.refund_due_minor + g.refunded_minor for g in raced) == [0, 5_000]
        assert need.state is NeedState.CLAIMED
        assert session.scalar(select(func.count(Claim.id)).where(Claim.need_id == need_id)) == 1
