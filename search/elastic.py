"""The Elasticsearch backend, for when one database machine is not enough.

Searches and writes go to an alias (``shanlian-needs``); the index behind it is named
after the moment it was built. A rebuild creates a new index, fills it with
``helpers.bulk``, swaps the alias over in one atomic request and deletes the old index,
so searches never see a half-built index. Writes require the alias
(``require_alias``): a missing alias is an error, never an index guessed by Elasticsearch.

Text is indexed twice: the raw title and story through the built-in ``cjk`` analyzer
(bigrams, for scoring), and the words of ``search.text.segment`` through a whitespace
analyzer (``tokens``): a need matches when it holds every word of the query, exactly as
on the database backends. ``function_score`` lifts urgent and recent needs. Distances use
Elasticsearch's own arc distance (a sphere, within 0.6% of the geodesic) to filter and
sort; the distance reported for each hit is the exact geodesic one.

Every failure to reach the cluster (refused, timed out, 5xx, index missing) is raised as
``SearchUnavailable``, so the application can fall back to the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from search import geo
from search.geo import Point
from search.query import (
    Facets,
    Hit,
    NeedDocument,
    ProgressCallback,
    SearchQuery,
    SearchResults,
    SearchUnavailable,
    Sort,
)

DEFAULT_ALIAS = "shanlian-needs"
BULK_CHUNK = 1_000

SETTINGS: dict[str, Any] = {
    "analysis": {
        "analyzer": {
            # The words are already cut by jieba and joined by spaces.
            "segmented": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
        }
    }
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",  # a field nobody mapped (a household's, say) is refused
    "properties": {
        "need_id": {"type": "integer"},
        "title": {"type": "text", "analyzer": "cjk"},
        "story": {"type": "text", "analyzer": "cjk"},
        "details": {"type": "text", "analyzer": "cjk"},
        "places": {"type": "text", "analyzer": "cjk"},
        "title_tokens": {"type": "text", "analyzer": "segmented"},
        "tokens": {"type": "text", "analyzer": "segmented"},
        "kind": {"type": "keyword"},
        "category": {"type": "keyword"},
        "state": {"type": "keyword"},
        "open": {"type": "boolean"},
        "district_code": {"type": "keyword"},
        "city_code": {"type": "keyword"},
        "urgency": {"type": "integer"},
        "published_at": {"type": "date"},
        "location": {"type": "geo_point"},
    },
}

# Higher urgency and recent publication lift a need: log2(2 + urgency) plus a decay that
# halves the boost of a need published a month ago, multiplied into the text score.
SCORE_FUNCTIONS: list[dict[str, Any]] = [
    {"field_value_factor": {"field": "urgency", "modifier": "log2p", "factor": 1, "missing": 1}},
    {"gauss": {"published_at": {"origin": "now", "offset": "1d", "scale": "30d", "decay": 0.5}}},
]
_OPEN_FIRST = {"open": {"order": "desc"}}
_NEWEST = {"published_at": {"order": "desc", "missing": "_last"}}


def document_source(document: NeedDocument) -> dict[str, Any]:
    """The JSON stored for a need: its public fields and nothing else."""
    title_words = document.title_words()
    return {
        "need_id": document.need_id,
        "title": document.title,
        "story": document.story,
        "details": document.details,
        "places": document.places,
        "title_tokens": title_words,
        "tokens": f"{title_words} {document.body_words()}".strip(),
        "kind": document.kind,
        "category": document.category,
        "state": document.state,
        "open": document.is_open,
        "district_code": document.district_code,
        "city_code": document.city_code,
        "urgency": document.urgency,
        "published_at": document.published_at.isoformat() if document.published_at else None,
        "location": {"lat": document.lat, "lon": document.lng},
    }


class ElasticsearchBackend:
    name = "elasticsearch"

    def __init__(
        self, client: Elasticsearch, alias: str = DEFAULT_ALIAS, refresh: bool | str = False
    ) -> None:
        """``refresh`` is passed to bulk writes ("wait_for" makes them searchable at once;
        tests use it, production leaves Elasticsearch its refresh interval)."""
        self.client = client
        self.alias = alias
        self.refresh = refresh

    # --- searching ---------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        with _unavailable_on_error("search"):
            response = self.client.search(index=self.alias, **self.search_request(query))
        body = response.body
        hits = []
        for hit in body["hits"]["hits"]:
            distance = None
            if query.near is not None:
                where = hit["_source"]["location"]
                distance = geo.geodesic_km(query.near, Point(where["lat"], where["lon"]))
            hits.append(Hit(int(hit["_id"]), distance))
        aggregations = body.get("aggregations", {})
        facets = Facets(
            kind=_buckets(aggregations.get("kind")),
            district=_buckets(aggregations.get("district")),
        )
        total = int(body["hits"]["total"]["value"])
        return SearchResults(hits, total, facets, query.page, query.per_page, self.name)

    def search_request(self, query: SearchQuery) -> dict[str, Any]:
        """The keyword arguments of ``Elasticsearch.search`` for ``query``."""
        filters: list[dict[str, Any]] = [{"terms": {"state": sorted(query.effective_states)}}]
        for field, value in (
            ("kind", query.kind),
            ("category", query.category),
            ("district_code", query.district),
            ("city_code", query.city),
        ):
            if value:
                filters.append({"term": {field: value}})
        if query.near is not None:
            filters.append(
                {
                    "geo_distance": {
                        "distance": f"{float(query.radius)!r}km",
                        "distance_type": "arc",
                        "location": _lat_lon(query.near),
                    }
                }
            )
        words = " ".join(query.words)
        must: list[dict[str, Any]] = [{"match_all": {}}]
        should: list[dict[str, Any]] = []
        if words:
            must = [{"match": {"tokens": {"query": words, "operator": "and"}}}]
            should = [
                {"match": {"title_tokens": {"query": words, "boost": 2}}},
                {
                    "multi_match": {
                        "query": query.text,
                        "fields": ["title^2", "story", "details", "places"],
                        "analyzer": "cjk",
                    }
                },
            ]
        return {
            "query": {
                "function_score": {
                    "query": {"bool": {"must": must, "should": should, "filter": filters}},
                    "functions": SCORE_FUNCTIONS,
                    "score_mode": "sum",
                    "boost_mode": "multiply",
                }
            },
            "sort": self._sort(query),
            "aggs": {
                "kind": {"terms": {"field": "kind", "size": 10}},
                "district": {"terms": {"field": "district_code", "size": 500}},
            },
            "from_": query.offset,
            "size": query.per_page,
            "track_total_hits": True,
            "source": {"includes": ["location"]},
        }

    def _sort(self, query: SearchQuery) -> list[Any]:
        sort = query.effective_sort
        if sort is Sort.DISTANCE and query.near is not None:
            by_distance = {
                "location": _lat_lon(query.near),
                "order": "asc",
                "unit": "km",
                "distance_type": "arc",
            }
            return [_OPEN_FIRST, {"_geo_distance": by_distance}, {"need_id": {"order": "asc"}}]
        if sort is Sort.RELEVANCE:
            return [_OPEN_FIRST, "_score", _NEWEST, {"need_id": {"order": "desc"}}]
        if sort is Sort.URGENCY:
            return [_OPEN_FIRST, {"urgency": {"order": "desc"}}, _NEWEST, {"need_id": "desc"}]
        return [_OPEN_FIRST, _NEWEST, {"need_id": {"order": "desc"}}]

    # --- writing -----------------------------------------------------------------------

    def upsert(self, documents: Sequence[NeedDocument]) -> None:
        self._bulk(
            {
                "_op_type": "index",
                "_index": self.alias,
                "_id": str(d.need_id),
                "_source": document_source(d),
            }
            for d in documents
        )

    def remove(self, need_ids: Sequence[int]) -> None:
        self._bulk(
            {"_op_type": "delete", "_index": self.alias, "_id": str(need_id)}
            for need_id in need_ids
        )

    def _bulk(self, actions: Iterable[dict[str, Any]]) -> None:
        batch = list(actions)
        if not batch:
            return
        with _unavailable_on_error("bulk write"):
            failed = self._send(batch)
            if failed and all(_index_missing(item) for item in failed):
                self.create_index()  # first write ever: make the index, then write again
                failed = self._send(batch)
        if failed:
            reason = failed[0].get("error", {}).get("type", failed[0].get("status"))
            raise SearchUnavailable(f"Elasticsearch bulk write: {len(failed)} failed ({reason})")

    def _send(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send one bulk request; returns the items that failed."""
        _done, errors = helpers.bulk(
            self.client,
            batch,
            chunk_size=BULK_CHUNK,
            refresh=self.refresh,
            require_alias=True,  # never let Elasticsearch invent an index for the alias
            raise_on_error=False,
        )
        failed = []
        for error in errors if isinstance(errors, list) else []:
            ((operation, item),) = error.items()
            if operation == "delete" and item.get("status") == 404 and "error" not in item:
                continue  # deleting a need that was never indexed is fine
            failed.append(item)
        return failed

    def create_index(self) -> str:
        """Create an empty index behind the alias if there is none; returns its name."""
        with _unavailable_on_error("create index"):
            current = self._indices_behind_alias()
            if current:
                return current[0]
            name = self._new_index()
            self.client.indices.update_aliases(
                actions=[{"add": {"index": name, "alias": self.alias}}]
            )
            return name

    def rebuild(
        self, documents: Iterable[NeedDocument], progress: ProgressCallback | None = None
    ) -> int:
        """Build a new index from ``documents`` and swap the alias onto it atomically."""
        with _unavailable_on_error("rebuild"):
            name = self._new_index(refresh_interval="-1")  # no refreshes while filling it
            try:
                done = self._fill(name, documents, progress)
            except BaseException:
                self.client.indices.delete(index=name, ignore_unavailable=True)
                raise
            self.client.indices.put_settings(index=name, settings={"refresh_interval": None})
            self.client.indices.refresh(index=name)
            old = self._indices_behind_alias()
            actions: list[dict[str, Any]] = [
                {"remove": {"index": index, "alias": self.alias}} for index in old
            ]
            if not old and self.client.indices.exists(index=self.alias):
                # An index squatting on the alias's name (auto-created by mistake) goes in
                # the same atomic request.
                actions.append({"remove_index": {"index": self.alias}})
            actions.append({"add": {"index": name, "alias": self.alias}})
            self.client.indices.update_aliases(actions=actions)
            for index in old:
                self.client.indices.delete(index=index)
        return done

    def _fill(
        self, index: str, documents: Iterable[NeedDocument], progress: ProgressCallback | None
    ) -> int:
        done = 0
        for _ok, _item in helpers.streaming_bulk(
            self.client, self._index_actions(index, documents), chunk_size=BULK_CHUNK
        ):
            done += 1
            if progress is not None:
                progress(1)
        return done

    def _index_actions(
        self, index: str, documents: Iterable[NeedDocument]
    ) -> Iterator[dict[str, Any]]:
        for d in documents:
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": str(d.need_id),
                "_source": document_source(d),
            }

    def _new_index(self, **settings: Any) -> str:
        name = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        self.client.indices.create(
            index=name,
            settings={**SETTINGS, "index": settings} if settings else SETTINGS,
            mappings=MAPPINGS,
        )
        return name

    def _indices_behind_alias(self) -> list[str]:
        try:
            response = self.client.indices.get_alias(name=self.alias)
        except ApiError as exc:
            if exc.status_code == 404:
                return []
            raise
        return sorted(response.body)

    # --- looking -----------------------------------------------------------------------

    def ping(self, timeout: float = 2.0) -> bool:
        """Whether the cluster answers within ``timeout`` seconds (never raises)."""
        try:
            return bool(self.client.options(request_timeout=timeout).ping())
        except Exception:  # a health probe reports, it does not fail
            return False

    def refresh_now(self) -> None:
        """Make every write so far searchable (tests; a rebuild does it itself)."""
        with _unavailable_on_error("refresh"):
            self.client.indices.refresh(index=self.alias)

    def indexed(self) -> dict[int, str]:
        return {int(hit["_id"]): hit["_source"]["state"] for hit in self._scan(["state"])}

    def stored_text(self) -> str:
        return "\n".join(
            json.dumps(hit["_source"], ensure_ascii=False, sort_keys=True)
            for hit in self._scan(None)
        )

    def _scan(self, fields: list[str] | None) -> Iterator[dict[str, Any]]:
        source: Any = {"includes": fields} if fields is not None else True
        with _unavailable_on_error("scan"):
            yield from helpers.scan(
                self.client,
                index=self.alias,
                query={"query": {"match_all": {}}, "_source": source},
            )


def _index_missing(item: dict[str, Any]) -> bool:
    return bool(item.get("error", {}).get("type") == "index_not_found_exception")


def _lat_lon(point: Point) -> dict[str, float]:
    return {"lat": point.lat, "lon": point.lng}


def _buckets(aggregation: dict[str, Any] | None) -> dict[str, int]:
    if not aggregation:
        return {}
    counts = {str(b["key"]): int(b["doc_count"]) for b in aggregation.get("buckets", [])}
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@contextmanager
def _unavailable_on_error(doing: str) -> Iterator[None]:
    try:
        yield
    except helpers.BulkIndexError as exc:
        raise SearchUnavailable(f"Elasticsearch {doing}: {len(exc.errors)} item(s) failed") from exc
    except ApiError as exc:
        raise SearchUnavailable(f"Elasticsearch {doing}: HTTP {exc.status_code}") from exc
    except TransportError as exc:
        raise SearchUnavailable(f"Elasticsearch {doing}: {type(exc).__name__}") from exc
