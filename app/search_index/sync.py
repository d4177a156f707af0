"""Keeping the indexes in step with the needs.

- The database index is written in the transaction that changes the need
  (``need_changed``): it is always exactly as consistent as the needs themselves.
- Elasticsearch hears of a change from the outbox: ``need_changed`` also writes a
  ``SearchOutbox`` row in that transaction, and once it has committed
  (``run_after_commit``) the outbox is delivered. If Elasticsearch is down the rows wait;
  the next delivery (after another change, after the sweep, or ``flask search deliver``)
  sends the needs as they are by then. ``flask search reindex`` rebuilds from scratch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.extensions import db, run_after_commit
from app.models_base import utcnow
from app.needs.models import Need
from app.search_index.documents import document_from, documents_for, public_documents
from app.search_index.engines import database_index, engines
from app.search_index.models import SearchOutbox
from search import SearchUnavailable

log = logging.getLogger("app.search")
DELIVERY_BATCH = 500
# A need changed while Elasticsearch was being rebuilt may have reached the old index
# only; needs changed since a little before the rebuild began are sent again after it.
REBUILD_CATCH_UP = timedelta(minutes=5)


def need_changed(session: Session, need: Need, was_public: bool | None = None) -> None:
    """Keep the search indexes in step with ``need`` (call after the change is flushed).

    ``was_public``: whether the need was public before the change (default: as now).
    A need that neither was nor is public is no business of the index.
    """
    if was_public is None:
        was_public = need.is_public
    if not (was_public or need.is_public):
        return
    index = database_index(session)
    if need.is_public:
        index.upsert([document_from(need)])
    else:
        index.remove([need.id])
    if engines().elastic is not None:
        session.add(SearchOutbox(need_id=need.id))
        session.flush()
        schedule_delivery(session)


def schedule_delivery(session: Session) -> None:
    """Deliver the outbox once the session's transaction has committed (once per
    transaction, however many needs it changed)."""
    if engines().elastic is None:
        return
    if deliver_after_commit not in session.info.get("after_commit", ()):
        run_after_commit(session, deliver_after_commit)


def deliver_after_commit() -> None:
    """After a commit: send what waits. Never raises (the change is committed already;
    what cannot be sent now waits for the next delivery)."""
    try:
        deliver_outbox()
    except Exception as exc:  # a committed change must not look failed
        log.error("search: outbox delivery failed: %s", type(exc).__name__)


def deliver_outbox(*, force: bool = False) -> int:
    """Send every waiting change to Elasticsearch; returns how many outbox rows were
    delivered. Works in its own sessions and commits them. Skipped while Elasticsearch
    is known to be down, unless ``force``."""
    elastic = engines().elastic_ready(force=force)
    if elastic is None:
        return 0
    delivered = 0
    while True:
        with db.session_factory() as session:
            rows = session.scalars(
                select(SearchOutbox)
                .order_by(SearchOutbox.id)
                .limit(DELIVERY_BATCH)
                .with_for_update(skip_locked=True)  # two deliveries never send the same rows
            ).all()
            if not rows:
                return delivered
            need_ids = sorted({row.need_id for row in rows})
            # The needs stay locked until the rows are gone: a change made meanwhile waits,
            # and then its own delivery sends the newer state after this one.
            documents, removed = documents_for(session, need_ids, lock=True)
            try:
                elastic.upsert(documents)
                elastic.remove(removed)
            except SearchUnavailable as exc:
                session.rollback()
                engines().mark_down(str(exc))
                return delivered
            session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows])))
            session.commit()
        engines().mark_up()
        delivered += len(rows)


def pending_updates(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SearchOutbox)) or 0


Progress = Callable[[int], None]


def reindex_database(session: Session, progress: Progress | None = None) -> int:
    """Rebuild the database index from the public needs, in the session's transaction
    (the caller commits). Returns the number of needs indexed."""
    return database_index(session).rebuild(public_documents(session), progress)


def reindex_elasticsearch(session: Session, progress: Progress | None = None) -> int:
    """Build a new Elasticsearch index from the public needs and swap it in, then send
    again the needs that changed meanwhile. Raises ``SearchUnavailable`` if the cluster
    cannot be reached (the old index stays in service)."""
    elastic = engines().elastic
    if elastic is None:
        raise SearchUnavailable("SEARCH_BACKEND is not elasticsearch")
    started = utcnow()
    count = elastic.rebuild(public_documents(session), progress)
    session.commit()  # end the long read: what follows must see the latest commits
    changed = session.scalars(
        select(Need.id).where(Need.updated_at >= started - REBUILD_CATCH_UP)
    ).all()
    session.add_all(SearchOutbox(need_id=need_id) for need_id in changed)
    session.commit()
    engines().mark_up()
    deliver_outbox(force=True)
    return count
