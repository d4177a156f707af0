"""Search: one interface, three engines, no view code and no Flask.

``SearchQuery`` in, ``SearchResults`` out, whichever engine answers:

- ``SqliteBackend`` (the embedded default): FTS5 over the segmented words, an R*Tree for
  the bounding box, then the exact geodesic distance.
- ``PostgresBackend``: a ``simple`` tsvector over the same words (GIN), an
  ``earthdistance`` box (GiST), then the exact geodesic distance.
- ``ElasticsearchBackend``: ``cjk`` analyzer plus the segmented words, ``geo_point``,
  ``function_score``, bulk writes and an alias swapped on rebuild.

Every backend segments Chinese with the one function ``search.text.segment`` (jieba),
indexes only ``NeedDocument`` (a need's public fields), and passes the same contract
tests (``tests/test_search_contract.py``). Keeping the index in step with the database
(after commit, through an outbox) is the application's job: ``app.search_index``.
"""

from search.geo import Point
from search.query import (
    DEFAULT_RADIUS_KM,
    MAX_RADIUS_KM,
    OPEN_STATE,
    PUBLIC_STATES,
    Facets,
    Hit,
    NeedDocument,
    QueryError,
    SearchBackend,
    SearchQuery,
    SearchResults,
    SearchUnavailable,
    Sort,
)
from search.sql import (
    DatabaseBackend,
    PostgresBackend,
    SqliteBackend,
    database_backend,
    is_index_table,
)
from search.text import segment

__all__ = [
    "DEFAULT_RADIUS_KM",
    "MAX_RADIUS_KM",
    "OPEN_STATE",
    "PUBLIC_STATES",
    "DatabaseBackend",
    "Facets",
    "Hit",
    "NeedDocument",
    "Point",
    "PostgresBackend",
    "QueryError",
    "SearchBackend",
    "SearchQuery",
    "SearchResults",
    "SearchUnavailable",
    "Sort",
    "SqliteBackend",
    "database_backend",
    "is_index_table",
    "segment",
]
