"""Which engines answer searches, and whether Elasticsearch is answering right now.

The database index is always there (it lives in the application's own database and is
written in the same transaction as the need), so it can answer whenever Elasticsearch
cannot. When a call to Elasticsearch fails, the failure is logged once and searches go
to the database for ``SEARCH_RETRY_SECONDS``; then Elasticsearch gets another try.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy.orm import Session

from search import DatabaseBackend, database_backend

if TYPE_CHECKING:
    from search.elastic import ElasticsearchBackend

log = logging.getLogger("app.search")
_EXTENSION = "search_engines"
_lock = threading.Lock()


class SearchEngines:
    """The engines one app is configured with, and the state of Elasticsearch."""

    def __init__(self, config: Any) -> None:
        self.elastic: ElasticsearchBackend | None = None
        if config["SEARCH_BACKEND"] == "elasticsearch":
            from elasticsearch import Elasticsearch

            from search.elastic import ElasticsearchBackend

            client = Elasticsearch(
                config["ELASTICSEARCH_URL"],
                request_timeout=float(config["ELASTICSEARCH_TIMEOUT"]),
                max_retries=0,  # the outbox retries; a request should fail fast
                retry_on_timeout=False,
            )
            self.elastic = ElasticsearchBackend(client, alias=config["ELASTICSEARCH_INDEX"])
        self.retry_seconds = float(config["SEARCH_RETRY_SECONDS"])
        self.last_error = ""
        self._down_until: float | None = None

    @property
    def is_down(self) -> bool:
        return self._down_until is not None and time.monotonic() < self._down_until

    def elastic_ready(self, *, force: bool = False) -> ElasticsearchBackend | None:
        """Elasticsearch, unless it is not configured or failed moments ago (``force``
        ignores the recent failure)."""
        if self.elastic is None or (self.is_down and not force):
            return None
        return self.elastic

    def mark_down(self, error: str) -> None:
        if not self.is_down:
            log.warning(
                "search: Elasticsearch is unavailable (%s); searches are answered from the "
                "database index, and index updates wait in the outbox",
                error,
            )
        self.last_error = error
        self._down_until = time.monotonic() + self.retry_seconds

    def mark_up(self) -> None:
        if self._down_until is not None:
            log.warning("search: Elasticsearch answers again")
        self._down_until = None
        self.last_error = ""


def _settings_key(config: Any) -> tuple[Any, ...]:
    return tuple(
        config.get(name)
        for name in (
            "SEARCH_BACKEND",
            "ELASTICSEARCH_URL",
            "ELASTICSEARCH_INDEX",
            "ELASTICSEARCH_TIMEOUT",
            "SEARCH_RETRY_SECONDS",
        )
    )


def engines() -> SearchEngines:
    """The current app's engines (made once per configuration)."""
    config = current_app.config
    key = _settings_key(config)
    cached = current_app.extensions.get(_EXTENSION)
    if cached is None or cached[0] != key:
        with _lock:
            cached = current_app.extensions.get(_EXTENSION)
            if cached is None or cached[0] != key:
                cached = (key, SearchEngines(config))
                current_app.extensions[_EXTENSION] = cached
    return cached[1]  # type: ignore[no-any-return]


def database_index(session: Session) -> DatabaseBackend:
    """The index kept in the application's database, on the session's transaction."""
    return database_backend(session.connection())


def search_health(session: Session) -> dict[str, Any]:
    """The ``search`` part of ``/healthz``: which engine answers, and whether it is the
    one configured. A dead Elasticsearch degrades search; it does not fail the site."""
    database = database_index(session).name
    state = engines()
    if state.elastic is None:
        return {"engine": database, "status": "ok"}
    from app.search_index.sync import pending_updates

    report: dict[str, Any] = {
        "engine": "elasticsearch",
        "pending_updates": pending_updates(session),
    }
    if state.elastic.ping():
        state.mark_up()
        return {**report, "status": "ok"}
    state.mark_down("no answer to a ping")
    return {
        **report,
        "status": "degraded",
        "fallback": database,
        "detail": "Elasticsearch is unreachable; searches are answered from the database "
        "index and updates wait in the outbox.",
    }
