"""The shared mechanisms every domain plugs into: state machines, events, the outbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from app import events, outbox
from app.accounts.models import User
from app.core.models import OutboxMessage, StatusEvent
from app.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.points.models import Redemption, RedemptionStatus, Reward
from app.statemachine import REGISTRY, Move, StateMachine, StatusChangedOutsideMachine, system
from tests.factories import UserFactory

R = RedemptionStatus


@pytest.fixture
def machine() -> Iterator[StateMachine[Redemption]]:
    """A machine over redemptions, registered for this test only."""

    def owner(redemption: Redemption, actor: object) -> bool:
        return getattr(actor, "id", None) == redemption.redeemed_by_id

    m = StateMachine(
        "test-redemption",
        Redemption,
        Redemption.status,
        {
            "collect": Move({R.ACTIVE}, R.COLLECTED, system),
            "cancel": Move({R.ACTIVE}, R.CANCELLED, owner, note_required=True),
        },
    )
    yield m
    del REGISTRY["test-redemption"]


@pytest.fixture
def redemption(session) -> Redemption:
    user = UserFactory()
    reward = Reward(name_zh="大米", name_en="Rice", price_points=10, stock=5)
    session.add(reward)
    session.flush()
    r = Redemption(
        reward_id=reward.id,
        owner_user_id=user.id,
        redeemed_by_id=user.id,
        points=10,
        code="T0001",
    )
    session.add(r)
    session.flush()
    return r


def test_apply_moves_records_and_signals(session, machine, redemption) -> None:
    seen = []

    def listener(sender, **kw):
        seen.append((sender, kw["obj"], kw["event"].action))

    with events.status_changed.connected_to(listener):
        record = machine.apply(session, redemption, "collect")
    assert redemption.status is R.COLLECTED
    assert (record.from_status, record.to_status, record.actor_id) == ("active", "collected", None)
    assert seen == [("test-redemption", redemption, "collect")]
    assert [e.action for e in machine.history(session, redemption)] == ["collect"]


def test_table_refuses_wrong_state_actor_and_missing_reason(session, machine, redemption) -> None:
    owner = session.get(User, redemption.redeemed_by_id)
    stranger = UserFactory()
    with pytest.raises(NotAllowed):
        machine.apply(session, redemption, "collect", actor=owner)  # only the system collects
    with pytest.raises(NotAllowed):
        machine.apply(session, redemption, "cancel", actor=stranger, note="x")
    with pytest.raises(ValidationFailed):
        machine.apply(session, redemption, "cancel", actor=owner)
    assert machine.available(redemption, owner) == ["cancel"]
    machine.apply(session, redemption, "cancel", actor=owner, note="changed my mind")
    with pytest.raises(InvalidTransition):
        machine.apply(session, redemption, "collect")
    assert session.scalar(select(StatusEvent.note)) == "changed my mind"


def test_direct_assignment_of_a_guarded_status_fails_the_flush(session, machine, redemption):
    redemption.status = R.COLLECTED
    with pytest.raises(StatusChangedOutsideMachine):
        session.flush()
    session.rollback()


def test_stale_copy_loses_the_compare_and_set(session, machine, redemption) -> None:
    machine.apply(session, redemption, "collect")
    # Make this copy look as if it had been read before the change: the UPDATE's
    # WHERE status = 'active' matches nothing, so the second move is refused.
    set_committed_value(redemption, "status", R.ACTIVE)
    with pytest.raises(InvalidTransition):
        machine.apply(session, redemption, "collect")
    assert redemption.status is R.COLLECTED  # re-read from the row the winner left
    assert len(machine.history(session, redemption)) == 1


def test_outbox_delivers_after_commit_retries_and_dead_letters(session, monkeypatch) -> None:
    delivered: list[tuple[dict, int]] = []
    failures = {"left": 2}

    def flaky(payload, message_id):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("far side down")
        delivered.append((payload, message_id))

    monkeypatch.setitem(outbox._DELIVERERS, "test-topic", flaky)
    monkeypatch.setattr(outbox, "backoff", lambda attempts: outbox.timedelta(0))
    message = outbox.enqueue(session, "test-topic", {"need_id": 7}, dedupe_key="n7")
    assert outbox.enqueue(session, "test-topic", {"need_id": 7}, dedupe_key="n7") is message
    session.commit()
    assert outbox.deliver_due(session, topic="test-topic") == 0
    assert outbox.deliver_due(session, topic="test-topic") == 0
    assert outbox.deliver_due(session, topic="test-topic") == 1
    assert delivered == [({"need_id": 7}, message.id)]
    session.refresh(message)
    assert (message.status, message.attempts) == ("sent", 3)

    monkeypatch.setitem(outbox._DELIVERERS, "test-topic", lambda p, i: 1 / 0)
    doomed = outbox.enqueue(session, "test-topic", {})
    session.commit()
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.deliver_due(session, topic="test-topic")
    session.refresh(doomed)
    assert doomed.status == "dead" and "division" in doomed.last_error
    assert doomed in outbox.dead_letters(session)
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.id == doomed.id)) is doomed


def test_handlers_are_discovered_once() -> None:
    first = events.connect_handlers()
    assert events.connect_handlers() == first
