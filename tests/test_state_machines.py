"""Every status has its machine, and every machine's table holds: each move is allowed from
each of its sources and refused from every other state, for the right actor only."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import time, timedelta
from typing import Any

import pytest

import app.households.services  # noqa: F401 - the visit machine lives beside its services
import app.intake.services  # noqa: F401 - so does the application machine
import app.models  # noqa: F401 - registers every model and every machine
import app.offers.pool  # noqa: F401 - the offers' machines live beside their services
from app.accounts.models import MemberRole, Role, User
from app.claims.models import Claim, DeliveryMethod
from app.core.models import OutboxMessage
from app.donations.models import Donation
from app.errors import InvalidTransition, NotAllowed
from app.extensions import Base, db
from app.models_base import local_today, readable_code, utcnow
from app.needs.models import NeedState
from app.payments.models import CashDonation
from app.points.models import Redemption, Reward
from app.shifts.models import Shift, ShiftSignup
from app.statemachine import REGISTRY, StateMachine, StatusChangedOutsideMachine
from tests.factories import (
    FarmHelpFactory,
    MicroWishFactory,
    OrganisationFactory,
    UserFactory,
    member_of,
)

# Status columns that are delivery bookkeeping, not a domain's state: the outbox moves its
# rows with its own compare-and-set (see app/outbox.py) and nobody else touches them.
NOT_DOMAIN_STATES = {OutboxMessage}
for _name in ("OutboxEmail", "SearchOutbox"):  # the old outboxes, while they exist
    if hasattr(app.models, _name):
        NOT_DOMAIN_STATES.add(getattr(app.models, _name))

Actors = dict[str, Any]
Builder = Callable[[Any], tuple[Any, Actors]]


def _worker() -> User:
    return UserFactory(caseworker=True)


def need_case(state: Any) -> tuple[Any, Actors]:
    claimant = UserFactory()
    need = MicroWishFactory(state=state, claimant_id=claimant.id)
    worker = db.session.get(User, need.created_by_id)
    verifier = UserFactory(verifier=True)
    actors = dict.fromkeys(("submit", "confirm", "dispute", "unconfirm", "close", "cancel"), worker)
    actors.update(approve=verifier, reject=verifier, pull_back=verifier, claim=UserFactory())
    actors.update(release=claimant, deliver=claimant, fund=None, expire=None, lapse=None)
    return need, actors


def claim_case(state: Any) -> tuple[Any, Actors]:
    need = MicroWishFactory(state=NeedState.CLAIMED)
    worker = db.session.get(User, need.created_by_id)
    donor = UserFactory()
    claim = Claim(
        need_id=need.id,
        claimant_id=donor.id,
        method=DeliveryMethod.HANDOVER,
        status=state,
        handover_code=readable_code(10),
        due_at=utcnow() + timedelta(days=7),
    )
    db.session.add(claim)
    db.session.flush()
    actors = dict.fromkeys(("accept", "release", "confirm", "dispute", "unconfirm"), worker)
    actors.update(withdraw=donor, deliver=donor, lapse=None)
    return claim, actors


def signup_case(state: Any) -> tuple[Any, Actors]:
    need = FarmHelpFactory(state=NeedState.PUBLISHED)
    team = OrganisationFactory(verified=True, team=True)
    leader = member_of(team)
    member = member_of(team, MemberRole.MEMBER)
    shift = Shift(
        need_id=need.id,
        day=local_today() + timedelta(days=5),
        start_time=time(8),
        end_time=time(12),
        places=5,
        checkin_code=readable_code(6),
        created_by_id=need.created_by_id,
    )
    db.session.add(shift)
    db.session.flush()
    signup = ShiftSignup(
        shift_id=shift.id,
        organisation_id=team.id,
        user_id=member.id,
        signed_up_by_id=leader.id,
        status=state,
    )
    db.session.add(signup)
    db.session.flush()
    return signup, {"cancel": member, "rebook": leader}


def donation_case(state: Any) -> tuple[Any, Actors]:
    company = OrganisationFactory(verified=True)
    giver = member_of(company)
    donation = Donation(
        organisation_id=company.id,
        logged_by_id=giver.id,
        district_code="440106",
        item="大米",
        quantity=10,
        value_yuan=500,
        status=state,
    )
    db.session.add(donation)
    db.session.flush()
    worker = _worker()
    return donation, {"receive": worker, "reject": worker}


def cash_case(state: Any) -> tuple[Any, Actors]:
    need = MicroWishFactory(state=NeedState.PUBLISHED)
    donor = UserFactory()
    gift = CashDonation(
        need_id=need.id,
        donor_id=donor.id,
        amount_minor=5_000,
        currency="cny",
        status=state,
        receipt_number=f"R{readable_code(10)}",
    )
    db.session.add(gift)
    db.session.flush()
    return gift, dict.fromkeys(REGISTRY["cash-donation"].moves)


def redemption_case(state: Any) -> tuple[Any, Actors]:
    user = UserFactory()
    reward = Reward(name_zh="大米", name_en="Rice", price_points=10, stock=5)
    db.session.add(reward)
    db.session.flush()
    redemption = Redemption(
        reward_id=reward.id,
        owner_user_id=user.id,
        redeemed_by_id=user.id,
        points=10,
        code=readable_code(10),
        status=state,
    )
    db.session.add(redemption)
    db.session.flush()
    return redemption, {"collect": UserFactory(admin=True), "cancel": user}


def organisation_case(state: Any) -> tuple[Any, Actors]:
    admin = UserFactory(admin=True)
    return OrganisationFactory(status=state), {"verify": admin, "reject": admin}


def offer_case(state: Any) -> tuple[Any, Actors]:
    from app.offers.models import Offer, OfferKind
    from tests.factories import restaurant

    organisation, admin = restaurant()
    offer = Offer(
        organisation_id=organisation.id,
        created_by_id=admin.id,
        kind=OfferKind.MEAL,
        title="午餐",
        district_code="440106",
        place="天河路1号",
        lat=23.13,
        lng=113.32,
        status=state,
        weekdays="1234567",
        window_start=time(11, 0),
        window_end=time(13, 0),
        portions_per_window=10,
    )
    db.session.add(offer)
    db.session.flush()
    return offer, {"pause": admin, "resume": admin, "end": admin, "lapse": None}


def offer_booking_case(state: Any) -> tuple[Any, Actors]:
    from app.offers.models import Booking
    from app.offers.services import new_code
    from tests.factories import HouseholdFactory, meal_offer, restaurant

    _organisation, admin = restaurant()
    offer = meal_offer(admin)
    household = HouseholdFactory()
    worker = db.session.get(User, household.created_by_id)
    booking = Booking(
        code=new_code(),
        offer_id=offer.id,
        slot_id=offer.slots[0].id,
        household_id=household.id,
        booked_by_id=worker.id,
        expires_at=offer.slots[0].ends_at,
        status=state,
    )
    db.session.add(booking)
    db.session.flush()
    return booking, {"redeem": admin, "cancel": worker, "no_show": None}


def pool_reservation_case(state: Any) -> tuple[Any, Actors]:
    from app.donations.models import DonationStatus
    from app.offers.models import PoolReservation
    from app.offers.services import new_code
    from tests.factories import HouseholdFactory

    household = HouseholdFactory()
    worker = db.session.get(User, household.created_by_id)
    company = OrganisationFactory(verified=True)
    donation = Donation(
        organisation_id=company.id,
        logged_by_id=member_of(company).id,
        district_code=household.district_code,
        item="大米",
        quantity=5,
        value_yuan=50,
        status=DonationStatus.RECEIVED,
        received_at=utcnow(),
    )
    db.session.add(donation)
    db.session.flush()
    reservation = PoolReservation(
        donation_id=donation.id,
        household_id=household.id,
        quantity=1,
        code=new_code(),
        reserved_by_id=worker.id,
        expires_at=utcnow() + timedelta(days=7),
        status=state,
    )
    db.session.add(reservation)
    db.session.flush()
    return reservation, {"hand_out": worker, "cancel": worker, "expire": None}


def visit_case(state: Any) -> tuple[Any, Actors]:
    from app.households.models import Visit, VisitMethod
    from tests.factories import HouseholdFactory

    household = HouseholdFactory()
    visitor = db.session.get(User, household.created_by_id)
    visit = Visit(
        household_id=household.id,
        visitor_id=visitor.id,
        visited_at=utcnow(),
        method=VisitMethod.HOME,
        status=state,
    )
    db.session.add(visit)
    db.session.flush()
    supervisor = UserFactory(verifier=True, area_code=household.district_code)
    return visit, {"reject": supervisor, "reinstate": supervisor}


def application_case(state: Any) -> tuple[Any, Actors]:
    from app.intake.models import Application
    from app.needs.models import CareCategory, NeedKind, PersonGroup

    agent = UserFactory(agent=True)
    caseworker = UserFactory(caseworker=True, area_code=agent.area_code)
    application = Application(
        agent_id=agent.id,
        district_code=agent.area_code,
        applicant_name="测试",
        id_number="",
        phone="",
        address="",
        group=list(PersonGroup)[0],
        kind=NeedKind.MICRO_WISH,
        category=list(CareCategory)[0],
        need_text="需要一个电饭煲",
        status=state,
    )
    db.session.add(application)
    db.session.flush()
    return application, {
        "accept": caseworker,
        "return": caseworker,
        "resubmit": agent,
        "withdraw": agent,
        "helped": None,
    }


BUILDERS: dict[str, Builder] = {
    "visit": visit_case,
    "application": application_case,
    "need": need_case,
    "claim": claim_case,
    "shift-signup": signup_case,
    "donation": donation_case,
    "cash-donation": cash_case,
    "redemption": redemption_case,
    "organisation": organisation_case,
    "offer": offer_case,
    "offer_booking": offer_booking_case,
    "pool_reservation": pool_reservation_case,
}


def _enum_of(machine: StateMachine[Any]) -> list[Any]:
    return list(type(next(iter(machine.states))))


CASES = [
    pytest.param(name, action, state, id=f"{name}-{action}-{state.value}")
    for name in BUILDERS
    for action in REGISTRY[name].moves
    for state in _enum_of(REGISTRY[name])
]


def test_every_status_column_has_a_machine() -> None:
    missing = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        for key in ("status", "state"):
            if key not in mapper.columns or cls in NOT_DOMAIN_STATES:
                continue
            if not any(issubclass(cls, m.model) and m.column.key == key for m in REGISTRY.values()):
                missing.append(f"{cls.__name__}.{key}")
    assert missing == []


def test_every_machine_has_its_table_tested() -> None:
    real = {name for name, m in REGISTRY.items() if not name.startswith("test-")}
    assert real == set(BUILDERS)


@pytest.mark.parametrize(("name", "action", "state"), CASES)
def test_move_from_each_state(session, name: str, action: str, state: Any) -> None:
    machine = REGISTRY[name]
    move = machine.moves[action]
    obj, actors = BUILDERS[name](state)
    if state in move.sources:
        record = machine.apply(session, obj, action, actors[action], note="测试原因")
        assert machine.status_of(obj) is move.target
        assert (record.from_status, record.to_status) == (state.value, move.target.value)
        assert [e.action for e in machine.history(session, obj)] == [action]
    else:
        with pytest.raises(InvalidTransition):
            machine.apply(session, obj, action, actors[action], note="测试原因")
        session.refresh(obj)
        assert machine.status_of(obj) is state
        assert machine.history(session, obj) == []


@pytest.mark.parametrize(
    ("name", "action"),
    [(name, action) for name in BUILDERS for action in REGISTRY[name].moves],
)
def test_move_refused_to_the_wrong_actor(session, name: str, action: str) -> None:
    machine = REGISTRY[name]
    move = machine.moves[action]
    source = sorted(move.sources, key=lambda s: s.value)[0]
    obj, actors = BUILDERS[name](source)
    right = actors[action]
    # A stranger for a person's move; any signed-in person for the system's own moves.
    wrong = UserFactory(role=Role.DONOR) if right is not None else UserFactory(admin=True)
    if name == "need" and action == "claim":
        wrong = UserFactory(caseworker=True)  # caseworkers never claim
    with pytest.raises(NotAllowed):
        machine.apply(session, obj, action, wrong, note="测试原因")
    session.refresh(obj)
    assert machine.status_of(obj) is source


@pytest.mark.parametrize("name", list(BUILDERS))
def test_assigning_a_status_directly_fails_the_flush(session, name: str) -> None:
    machine = REGISTRY[name]
    states = _enum_of(machine)
    obj, _actors = BUILDERS[name](states[0])
    setattr(obj, machine.column.key, states[1])
    with pytest.raises(StatusChangedOutsideMachine):
        session.flush()
    session.rollback()


def test_no_move_is_unreachable() -> None:
    """Every state of every machine is some move's source or target (no dead enum value)."""
    for name in BUILDERS:
        machine = REGISTRY[name]
        assert set(_enum_of(machine)) <= machine.states | set(
            itertools.chain.from_iterable(m.sources for m in machine.moves.values())
        ), name
