"""The database backends: the index lives in the application's own database.

``search_documents`` holds one row per public need (filters and sort keys only, no text),
and each engine adds its own structures, created by the migration:

- SQLite: ``search_fts``, an FTS5 table over the segmented title and body (rowid = need
  id), and ``search_rtree``, an R*Tree of the needs' public points for the bounding box.
- PostgreSQL: a ``tokens`` tsvector column (``simple`` configuration over the segmented
  words, title weighted above body) in a GIN index together with ``cells``, the grid
  cells of the need's point (``search.geo.cell_keys``), and a GiST index on
  ``ll_to_earth(lat, lng)`` (the ``earthdistance`` extension) for the distance box.

Which index leads depends on the search (measured at 1,000,000 needs, see ``bench/``):
the words when there are words, each matching row's point then checked against the box;
the spatial index for a place alone. Both engines then decide "within R km" and order by
distance with the exact geodesic distance (``search.geo``), in Python, over the few
candidates the index lets through. Writes run on the caller's connection, inside its
transaction: the index changes when the need does.
"""

# ruff: noqa: S608 (the SQL here is assembled from this module's own table and column
# names only; every value, the user's words included, is a bound parameter)
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, text

from search import geo
from search.geo import Point
from search.query import (
    PUBLIC_STATES,
    Facets,
    Hit,
    NeedDocument,
    ProgressCallback,
    SearchQuery,
    SearchResults,
    Sort,
)

DOCUMENTS = "search_documents"
FTS = "search_fts"
RTREE = "search_rtree"
# FTS5 and R*Tree keep shadow tables named after their own (search_fts_data, ...).
INDEX_TABLES = (DOCUMENTS, FTS, RTREE)
REBUILD_BATCH = 2_000

_COLUMNS = "d.need_id, d.kind, d.district_code, d.lat, d.lng, d.is_open, d.urgency, d.published_ts"
_DOCUMENT_INSERT = (
    f"INSERT INTO {DOCUMENTS} (need_id, state, is_open, kind, category, district_code, "
    "city_code, urgency, published_ts, lat, lng{extra_columns}) VALUES (:need_id, :state, "
    ":is_open, :kind, :category, :district_code, :city_code, :urgency, :published_ts, :lat, "
    ":lng{extra_values})"
)


def is_index_table(name: str) -> bool:
    """Whether a table belongs to the search index (it is not a model; migrations own it)."""
    return name.startswith(INDEX_TABLES)


@dataclass
class _Statement:
    """A search being put together: FROM, WHERE and bound values."""

    source: str
    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    score: str = "0"

    def sql(self, select: str, tail: str = "") -> Any:
        where = " AND ".join(self.where) or "1 = 1"
        statement = text(f"SELECT {select} FROM {self.source} WHERE {where} {tail}")
        if "states" in self.params:
            statement = statement.bindparams(bindparam("states", expanding=True))
        return statement


class _Candidate(NamedTuple):
    """One row of a search around a point (a tuple: there are thousands per search)."""

    need_id: int
    kind: str
    district_code: str
    lat: float
    lng: float
    is_open: int
    urgency: int
    published_ts: float
    score: float


_ORDER_SQL = {
    Sort.RELEVANCE: "d.is_open DESC, score DESC, d.published_ts DESC, d.need_id DESC",
    Sort.URGENCY: "d.is_open DESC, d.urgency DESC, d.published_ts DESC, d.need_id DESC",
    Sort.NEWEST: "d.is_open DESC, d.published_ts DESC, d.need_id DESC",
}


def _order_key(sort: Sort) -> Any:
    """The same orders as ``_ORDER_SQL``, for candidates sorted in Python."""
    if sort is Sort.RELEVANCE:
        return lambda c: (-c.is_open, -c.score, -c.published_ts, -c.need_id)
    if sort is Sort.URGENCY:
        return lambda c: (-c.is_open, -c.urgency, -c.published_ts, -c.need_id)
    return lambda c: (-c.is_open, -c.published_ts, -c.need_id)


class DatabaseBackend:
    """What SQLite and PostgreSQL share; subclasses supply the engine's own SQL."""

    name = "database"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- searching ---------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        statement = self._statement(query)
        if query.near is None:
            return self._search_in_sql(query, statement)
        return self._search_near(query, query.near, statement)

    def _statement(self, query: SearchQuery) -> _Statement:
        statement = _Statement(f"{DOCUMENTS} d")
        if query.words:
            self._match_words(statement, query.words)
            if query.effective_sort is not Sort.RELEVANCE:
                statement.score = "0"  # ranking costs; only relevance needs it
        if query.near is not None:
            self._near_box(statement, query.near, query.radius)
        states = query.effective_states
        if states != PUBLIC_STATES:  # the index holds public needs only
            statement.where.append("d.state IN :states")
            statement.params["states"] = sorted(states)
        for column, value in (
            ("kind", query.kind),
            ("category", query.category),
            ("district_code", query.district),
            ("city_code", query.city),
        ):
            if value:
                statement.where.append(f"d.{column} = :{column}")
                statement.params[column] = value
        return statement

    def _match_words(self, statement: _Statement, words: Sequence[str]) -> None:
        raise NotImplementedError

    def _near_box(self, statement: _Statement, centre: Point, radius_km: float) -> None:
        raise NotImplementedError

    def _search_in_sql(self, query: SearchQuery, statement: _Statement) -> SearchResults:
        """No point: the engine counts, groups, orders and pages (two statements)."""
        groups = self.connection.execute(
            statement.sql("d.kind, d.district_code, count(*)", "GROUP BY d.kind, d.district_code"),
            statement.params,
        ).all()
        facets = Facets.count((kind, district, n) for kind, district, n in groups)
        total = sum(facets.kind.values())
        hits: list[Hit] = []
        if query.offset < total:
            order = _ORDER_SQL[query.effective_sort]
            rows = self.connection.execute(
                statement.sql(
                    f"d.need_id, {statement.score} AS score",
                    f"ORDER BY {order} LIMIT :limit OFFSET :offset",
                ),
                {**statement.params, "limit": query.per_page, "offset": query.offset},
            )
            hits = [Hit(row.need_id) for row in rows]
        return SearchResults(hits, total, facets, query.page, query.per_page, self.name)

    def _search_near(
        self, query: SearchQuery, centre: Point, statement: _Statement
    ) -> SearchResults:
        """A point: the index gives the candidates in a box, the geodesic decides."""
        rows = self.connection.execute(
            statement.sql(f"{_COLUMNS}, {statement.score} AS score"), statement.params
        ).all()  # one fetch: hundreds of rows, one at a time, cost more than the search
        candidates = [_Candidate._make(row) for row in rows]
        ruler = geo.Ruler(centre)
        inside = geo.within(candidates, _point_of, ruler, query.radius)
        counts = Counter((c.kind, c.district_code) for c, _located in inside)
        facets = Facets.count((kind, district, n) for (kind, district), n in counts.items())
        stop = query.offset + query.per_page
        sort = query.effective_sort
        if sort is Sort.DISTANCE:
            ordered: list[tuple[_Candidate, geo.Located]] = []
            for is_open in (1, 0):  # open needs first, each group nearest first
                group = [item for item in inside if item[0].is_open == is_open]
                ordered += geo.nearest(group, _point_of, _need_id, ruler, stop - len(ordered))
        else:
            key = _order_key(sort)
            ordered = heapq.nsmallest(stop, inside, key=lambda item: key(item[0]))
        hits = [
            Hit(c.need_id, ruler.of(located, c.lat, c.lng))
            for c, located in ordered[query.offset : stop]
        ]
        return SearchResults(hits, len(inside), facets, query.page, query.per_page, self.name)

    # --- writing -----------------------------------------------------------------------

    def upsert(self, documents: Sequence[NeedDocument]) -> None:
        if documents:
            self.remove([d.need_id for d in documents])
            self._insert(documents)

    def remove(self, need_ids: Sequence[int]) -> None:
        raise NotImplementedError

    def _insert(self, documents: Sequence[NeedDocument]) -> None:
        raise NotImplementedError

    def rebuild(
        self, documents: Iterable[NeedDocument], progress: ProgressCallback | None = None
    ) -> int:
        """Empty the index and fill it again, in batches, in the caller's transaction
        (readers see the old index until it commits)."""
        self._clear()
        done = 0
        for batch in _batches(documents, REBUILD_BATCH):
            self._insert(batch)
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        return done

    def _clear(self) -> None:
        raise NotImplementedError

    def indexed(self) -> dict[int, str]:
        rows = self.connection.execute(text(f"SELECT need_id, state FROM {DOCUMENTS}"))
        return {need_id: state for need_id, state in rows}  # noqa: C416 (rows, not pairs)

    def stored_text(self) -> str:
        raise NotImplementedError

    def _document_values(self, document: NeedDocument) -> dict[str, Any]:
        return {
            "need_id": document.need_id,
            "state": document.state,
            "is_open": 1 if document.is_open else 0,
            "kind": document.kind,
            "category": document.category,
            "district_code": document.district_code,
            "city_code": document.city_code,
            "urgency": document.urgency,
            "published_ts": document.published_ts,
            "lat": document.lat,
            "lng": document.lng,
        }

    def _dump(self, tables: Iterable[str]) -> str:
        lines = []
        for table in tables:
            for row in self.connection.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: {tuple(row)!r}")
        return "\n".join(lines)


class SqliteBackend(DatabaseBackend):
    """FTS5 for the words, an R*Tree for the box."""

    name = "sqlite"

    def _match_words(self, statement: _Statement, words: Sequence[str]) -> None:
        # The words lead (CROSS JOIN fixes SQLite's join order): left to itself, the
        # planner prefers a b-tree index on search_documents and then runs the MATCH once
        # per row, a hundred times slower.
        statement.source = f"{FTS} CROSS JOIN {DOCUMENTS} d ON d.need_id = {FTS}.rowid"
        statement.where.append(f"{FTS} MATCH :match")
        # Each word a quoted string: all must occur, and none is read as an operator.
        statement.params["match"] = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        statement.score = f"-bm25({FTS}, 2.0, 1.0)"  # a title word counts double

    def _near_box(self, statement: _Statement, centre: Point, radius_km: float) -> None:
        box = geo.bounding_box(centre, radius_km)
        statement.params.update(south=box.south, north=box.north, west=box.west, east=box.east)
        if statement.source.startswith(FTS):
            # Words and a place: the words lead, and each matching row's own point is
            # checked against the box. Probing the R*Tree once per matching row costs more
            # than reading the row (measured: 7.3 against 3.0 ms at 200,000 needs).
            statement.where += [
                "d.lat BETWEEN :south AND :north",
                "d.lng BETWEEN :west AND :east",
            ]
            return
        # A place alone: the R*Tree finds the points in the box.
        statement.source = f"{RTREE} r CROSS JOIN {DOCUMENTS} d ON d.need_id = r.id"
        statement.where += [
            "r.max_lat >= :south",
            "r.min_lat <= :north",
            "r.max_lng >= :west",
            "r.min_lng <= :east",
        ]

    def remove(self, need_ids: Sequence[int]) -> None:
        if not need_ids:
            return
        ids = {"ids": list(need_ids)}
        for statement in (
            f"DELETE FROM {DOCUMENTS} WHERE need_id IN :ids",
            f"DELETE FROM {FTS} WHERE rowid IN :ids",
            f"DELETE FROM {RTREE} WHERE id IN :ids",
        ):
            self.connection.execute(
                text(statement).bindparams(bindparam("ids", expanding=True)), ids
            )

    def _insert(self, documents: Sequence[NeedDocument]) -> None:
        self.connection.execute(
            text(_DOCUMENT_INSERT.format(extra_columns="", extra_values="")),
            [self._document_values(d) for d in documents],
        )
        self.connection.execute(
            text(f"INSERT INTO {FTS} (rowid, title, body) VALUES (:need_id, :title, :body)"),
            [
                {"need_id": d.need_id, "title": d.title_words(), "body": d.body_words()}
                for d in documents
            ],
        )
        # A point is a box of no size; the R*Tree rounds its 32-bit bounds outwards.
        self.connection.execute(
            text(
                f"INSERT INTO {RTREE} (id, min_lat, max_lat, min_lng, max_lng) "
                "VALUES (:need_id, :lat, :lat, :lng, :lng)"
            ),
            [{"need_id": d.need_id, "lat": d.lat, "lng": d.lng} for d in documents],
        )

    def _clear(self) -> None:
        for table in (DOCUMENTS, FTS, RTREE):
            self.connection.execute(text(f"DELETE FROM {table}"))

    def stored_text(self) -> str:
        tables = self.connection.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ).scalars()
        return self._dump(name for name in tables if is_index_table(name))


class PostgresBackend(DatabaseBackend):
    """A weighted tsvector with a GIN index; an earthdistance box with a GiST index."""

    name = "postgresql"
    _TOKENS = (
        "setweight(to_tsvector('simple', :title), 'A') || "
        "setweight(to_tsvector('simple', :body), 'B')"
    )

    def _match_words(self, statement: _Statement, words: Sequence[str]) -> None:
        statement.source += " CROSS JOIN plainto_tsquery('simple', :words) AS words"
        statement.where.append("d.tokens @@ words")
        statement.params["words"] = " ".join(words)
        statement.score = "ts_rank(d.tokens, words)"

    def _near_box(self, statement: _Statement, centre: Point, radius_km: float) -> None:
        if "words" in statement.params:
            # Words and a place: one lookup in the GIN index over (tokens, cells) finds the
            # needs holding the words in the grid cells around the box, and each row's own
            # point is then checked against the box. (With the GiST cube instead, the
            # planner guesses the cube holds a few hundred rows whatever its size and
            # reads them all: at 1,000,000 needs, 5 ms this way against 15-40 ms.)
            box = geo.bounding_box(centre, radius_km)
            statement.where += [
                "d.cells && CAST(:cells AS integer[])",
                "d.lat BETWEEN :south AND :north",
                "d.lng BETWEEN :west AND :east",
            ]
            statement.params.update(
                cells=geo.cells_covering(box),
                south=box.south,
                north=box.north,
                west=box.west,
                east=box.east,
            )
            return
        # A place alone: the GiST index on ll_to_earth finds the points in a cube around
        # it. earthdistance's sphere (6378.168 km) is a little larger than the mean one;
        # the cube is made generous enough for any geodesic distance up to the radius.
        statement.where.append(
            "earth_box(ll_to_earth(:lat, :lng), :reach) @> ll_to_earth(d.lat, d.lng)"
        )
        # At least a metre: PostgreSQL refuses float8 values as tiny as 5e-324 ("underflow"),
        # which a radius just above 0 km would give.
        reach = max(1.0, radius_km * 1000 * (1 + 2 * geo.SPHERE_ERROR))
        statement.params.update(lat=centre.lat, lng=centre.lng, reach=reach)

    def remove(self, need_ids: Sequence[int]) -> None:
        if need_ids:
            self.connection.execute(
                text(f"DELETE FROM {DOCUMENTS} WHERE need_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": list(need_ids)},
            )

    def _insert(self, documents: Sequence[NeedDocument]) -> None:
        self.connection.execute(
            text(
                _DOCUMENT_INSERT.format(
                    extra_columns=", tokens, cells",
                    extra_values=f", {self._TOKENS}, CAST(:cells AS integer[])",
                )
            ),
            [
                {
                    **self._document_values(d),
                    "title": d.title_words(),
                    "body": d.body_words(),
                    "cells": geo.cell_keys(d.lat, d.lng),
                }
                for d in documents
            ],
        )

    def _clear(self) -> None:
        # DELETE rather than TRUNCATE: searches keep reading the old rows until commit.
        self.connection.execute(text(f"DELETE FROM {DOCUMENTS}"))

    def stored_text(self) -> str:
        rows = self.connection.execute(
            text(f"SELECT d.*, d.tokens::text AS words FROM {DOCUMENTS} d ORDER BY need_id")
        )
        return "\n".join(f"{DOCUMENTS}: {tuple(row)!r}" for row in rows)


def database_backend(connection: Connection) -> DatabaseBackend:
    """The backend for this connection's database."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return SqliteBackend(connection)
    if dialect == "postgresql":
        return PostgresBackend(connection)
    raise ValueError(f"no search backend for the {dialect} database")


_point_of: Callable[[_Candidate], tuple[float, float]] = itemgetter(3, 4)  # (lat, lng)


def _need_id(candidate: _Candidate) -> int:
    return candidate.need_id


def _batches(items: Iterable[NeedDocument], size: int) -> Iterator[list[NeedDocument]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
