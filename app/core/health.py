"""What ``/healthz`` and ``/readyz`` check.

``/healthz`` is liveness: the process answers (200) and says how its dependencies look; a
load balancer or orchestrator restarts a node only when it stops answering, never because
the database blinked (a restart would not fix that). ``/readyz`` is readiness: 503 takes the
node out of rotation when it cannot serve, which is when its database is unreachable. A
dead Redis (rate limits fall back to each node's memory), a dead Elasticsearch (searches
fall back to the database index) or a growing outbox backlog degrade the site on every
node alike; they are reported, but do not take nodes out, which would turn a degraded site
into no site.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.models_base import utcnow

log = logging.getLogger(__name__)


def check_database(session: Session) -> dict[str, Any]:
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means unreachable
        session.rollback()
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        return {"status": "unavailable"}
    return {"status": "ok"}


def check_redis() -> dict[str, Any]:
    url = current_app.config["REDIS_URL"]
    if not url:
        return {"status": "off"}
    from redis import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # noqa: BLE001
        log.warning("readiness: redis unreachable: %s", type(error).__name__)
        return {
            "status": "degraded",
            "detail": "Redis is unreachable; rate limits use each node's memory and queued "
            "jobs wait until it returns.",
        }
    return {"status": "ok"}


def check_storage() -> dict[str, Any]:
    from app.uploads.storage import S3Storage, get_storage

    storage = get_storage()
    kind = "s3" if isinstance(storage, S3Storage) else "local"
    try:
        storage.check()
    except Exception as error:  # noqa: BLE001
        log.warning("readiness: upload storage: %s", type(error).__name__)
        return {"status": "degraded", "backend": kind}
    return {"status": "ok", "backend": kind}


def outbox_backlog(session: Session) -> dict[str, Any]:
    """Messages due but not sent, the oldest one's wait, and dead letters."""
    from app.core.models import OutboxMessage

    now = utcnow()
    due, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
        )
    ).one()
    dead = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "dead")
    )
    waited = (now - oldest) if oldest is not None else timedelta(0)
    limit = timedelta(minutes=current_app.config["READY_OUTBOX_MAX_AGE_MINUTES"])
    return {
        "status": "degraded" if waited > limit else "ok",
        "due": due,
        "oldest_due_seconds": int(waited.total_seconds()),
        "dead": dead or 0,
    }


def readiness(session: Session) -> tuple[dict[str, Any], bool]:
    """The report and whether this node should receive traffic."""
    from app import search_index

    database = check_database(session)
    report: dict[str, Any] = {"database": database}
    if database["status"] == "ok":
        report["search"] = search_index.search_health(session)
        report["outbox"] = outbox_backlog(session)
        session.rollback()
    report["redis"] = check_redis()
    report["storage"] = check_storage()
    ready = database["status"] == "ok"
    degraded = any(part.get("status") not in ("ok", "off") for part in report.values())
    report["status"] = "unavailable" if not ready else ("degraded" if degraded else "ok")
    return report, ready
