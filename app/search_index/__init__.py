"""The application-side adapter of ``search``: keeps the index in step with the database
and asks it.

The ``search`` package knows engines; this package knows the application: which needs are
public, when they change (``need_changed``, called by the lifecycle and the need
services), the outbox that carries changes to Elasticsearch after commit, the fallback
to the database index, and the ``flask search`` commands.
"""

from app.search_index.engines import database_index, engines, search_health
from app.search_index.models import SearchOutbox
from app.search_index.queries import SearchPage, search_needs
from app.search_index.sync import (
    deliver_outbox,
    need_changed,
    pending_updates,
    reindex_database,
    reindex_elasticsearch,
    schedule_delivery,
)

__all__ = [
    "SearchOutbox",
    "SearchPage",
    "database_index",
    "deliver_outbox",
    "engines",
    "need_changed",
    "pending_updates",
    "reindex_database",
    "reindex_elasticsearch",
    "schedule_delivery",
    "search_health",
    "search_needs",
]
