"""One outbox for everything that leaves the process.

A service (or an event handler) calls :func:`enqueue` inside its transaction; the row
commits or rolls back with the change. After commit a deliverer registered for the topic
(``@deliverer("email")``) sends it. Failures are retried with exponential back-off; after
``MAX_ATTEMPTS`` the row is dead and listed for the admin. Delivery never rolls back the
change that caused it. Deliverers are called with the payload (plain JSON values, ids,
never ORM objects) and must be idempotent: a crash between sending and marking sent sends
twice, so pass ``message_id`` on to the far side as an idempotency key where it has one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.models import OutboxMessage
from app.models_base import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
Deliverer = Callable[[dict[str, Any], int], None]
_DELIVERERS: dict[str, Deliverer] = {}


def deliverer(topic: str) -> Callable[[Deliverer], Deliverer]:
    """Register the function that delivers messages of ``topic``: ``f(payload, message_id)``."""

    def register(func: Deliverer) -> Deliverer:
        _DELIVERERS[topic] = func
        return func

    return register


def enqueue(
    session: Session, topic: str, payload: dict[str, Any], dedupe_key: str | None = None
) -> OutboxMessage:
    """Write a message to send after commit. With ``dedupe_key``, a second message of the
    same topic and key is the first one (returned, not duplicated)."""
    if dedupe_key is not None:
        existing = session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.topic == topic, OutboxMessage.dedupe_key == dedupe_key
            )
        )
        if existing is not None:
            return existing
    message = OutboxMessage(topic=topic, payload=payload, dedupe_key=dedupe_key)
    session.add(message)
    session.flush()
    return message


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 6 hours."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def deliver_due(session: Session, limit: int = 100, topic: str | None = None) -> int:
    """Deliver up to ``limit`` due messages, each claimed with a compare-and-set so that two
    workers never deliver the same row; returns how many were delivered. Commits per row."""
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow())
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if topic is not None:
        query = query.where(OutboxMessage.topic == topic)
    delivered = 0
    for message_id in list(session.scalars(query)):
        if deliver_one(session, message_id):
            delivered += 1
    return delivered


def deliver_one(session: Session, message_id: int) -> bool:
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "pending":
        return False
    attempts = message.attempts
    # Claim the row: push its next attempt out so a second worker skips it meanwhile.
    claimed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.attempts == attempts,
            OutboxMessage.status == "pending",
        )
        .values(attempts=attempts + 1, next_attempt_at=utcnow() + backoff(attempts + 1))
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    func = _DELIVERERS.get(message.topic)
    try:
        if func is None:
            raise LookupError(f"no deliverer for topic {message.topic!r}")
        func(dict(message.payload), message_id)
    except Exception as error:  # noqa: BLE001 - any failure is retried, then dead-lettered
        session.rollback()
        dead = attempts + 1 >= MAX_ATTEMPTS
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status="dead" if dead else "pending", last_error=str(error)[:500])
        )
        session.commit()
        log.warning(
            "outbox message %s (%s) failed: %s", message_id, message.topic, type(error).__name__
        )
        return False
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status="sent", delivered_at=utcnow())
    )
    session.commit()
    return True


def dead_letters(session: Session, limit: int = 200) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "dead")
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )
