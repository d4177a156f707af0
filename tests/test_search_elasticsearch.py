"""The Elasticsearch backend against a stand-in cluster (no cluster exists here).

A local HTTP server (pytest-httpserver) plays the cluster's part: the real
``elasticsearch`` client sends it real requests, and the server keeps the indices, aliases
and documents those requests describe. The tests read what was sent (the mapping, the
query bodies, the bulk bodies) and what the "cluster" holds; searches are answered from
canned responses, since this server does not rank. The search semantics themselves are
checked against a real cluster by ``tests/test_search_contract.py`` when
``ELASTICSEARCH_URL`` is set.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from app import search_index
from app.accounts.models import User
from app.needs import lifecycle
from app.needs.models import PUBLIC_STATES, Need, NeedState
from search import Point, SearchQuery, SearchUnavailable, Sort
from search.elastic import MAPPINGS, ElasticsearchBackend
from tests.factories import (
    FarmHelpFactory,
    HouseholdFactory,
    MicroWishFactory,
    UserFactory,
    need_in_state,
)

ALIAS = "test-needs"
HEADERS = {"X-Elastic-Product": "Elasticsearch"}
PUBLIC_FIELDS = set(MAPPINGS["properties"])


@dataclass
class Sent:
    method: str
    path: str
    args: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> list[Any]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class FakeCluster:
    """Just enough of Elasticsearch for the client: indices, aliases, bulk, search."""

    server: HTTPServer
    sent: list[Sent] = field(default_factory=list)
    indices: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"body", "docs"}
    aliases: dict[str, set[str]] = field(default_factory=dict)
    outage: int | None = None  # answer every request with this status
    search_response: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def documents(self) -> dict[int, dict[str, Any]]:
        """The documents behind the alias, by need id."""
        (index,) = self.aliases[ALIAS]
        return {int(doc_id): source for doc_id, source in self.indices[index]["docs"].items()}

    def requests_to(self, method: str, pattern: str) -> list[Sent]:
        """What was sent to paths matching ``pattern`` by methods matching ``method``."""
        return [
            s for s in self.sent if re.fullmatch(method, s.method) and re.fullmatch(pattern, s.path)
        ]

    def stop(self) -> None:
        self.server.stop()  # connection refused from now on

    def start(self) -> None:
        self.server.start()

    # --- the server side -------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        self.sent.append(Sent(request.method, request.path, dict(request.args), body))
        if self.outage:
            return self._json(
                {"error": {"type": "unavailable"}, "status": self.outage}, self.outage
            )
        method, parts = request.method, [p for p in request.path.split("/") if p]
        if not parts:
            return self._json(
                {"name": "fake", "version": {"number": "9.0.0"}, "tagline": "You Know, for Search"}
            )
        if parts == ["_bulk"]:
            return self._bulk(body, request.args)
        if parts == ["_aliases"]:
            return self._update_aliases(json.loads(body)["actions"])
        if parts[0] == "_alias" and len(parts) == 2:
            return self._get_alias(parts[1])
        name = parts[0]
        if len(parts) == 1:
            if method == "PUT":
                self.indices[name] = {"body": json.loads(body or b"{}"), "docs": {}}
                return self._json(
                    {"acknowledged": True, "shards_acknowledged": True, "index": name}
                )
            if method == "DELETE":
                self.indices.pop(name, None)
                return self._json({"acknowledged": True})
            if method == "HEAD":
                exists = name in self.indices or name in self.aliases
                return Response(status=200 if exists else 404, headers=HEADERS)
        if parts[1:] == ["_settings"] or parts[1:] == ["_refresh"]:
            return self._json(
                {"acknowledged": True, "_shards": {"total": 1, "successful": 1, "failed": 0}}
            )
        if parts[1:] == ["_search"]:
            return self._json(self.search_response or _response([], 0))
        return self._json({"error": f"fake cluster: no route {method} {request.path}"}, 400)

    def _json(self, payload: Any, status: int = 200) -> Response:
        return Response(
            json.dumps(payload), status=status, headers=HEADERS, content_type="application/json"
        )

    def _target(self, name: str, require_alias: bool) -> str | None:
        if name in self.aliases:
            (index,) = self.aliases[name]
            return index
        if require_alias or name not in self.indices:
            return None
        return name

    def _bulk(self, body: bytes, args: Any) -> Response:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        require_alias = args.get("require_alias") == "true"
        items, position = [], 0
        while position < len(lines):
            ((operation, meta),) = lines[position].items()
            position += 1
            index = self._target(meta["_index"], require_alias)
            if index is None:
                error = {"type": "index_not_found_exception", "reason": "no such index"}
                items.append({operation: {"_id": meta["_id"], "status": 404, "error": error}})
                position += operation == "index"
                continue
            docs = self.indices[index]["docs"]
            if operation == "index":
                created = meta["_id"] not in docs
                docs[meta["_id"]] = lines[position]
                position += 1
                items.append(
                    {
                        "index": {
                            "_id": meta["_id"],
                            "status": 201 if created else 200,
                            "result": "created" if created else "updated",
                        }
                    }
                )
            else:
                found = docs.pop(meta["_id"], None) is not None
                items.append(
                    {
                        "delete": {
                            "_id": meta["_id"],
                            "status": 200 if found else 404,
                            "result": "deleted" if found else "not_found",
                        }
                    }
                )
        errors = any("error" in next(iter(i.values())) for i in items)
        return self._json({"took": 1, "errors": errors, "items": items})

    def _update_aliases(self, actions: list[dict[str, Any]]) -> Response:
        for action in actions:
            ((kind, spec),) = action.items()
            if kind == "add":
                self.aliases.setdefault(spec["alias"], set()).add(spec["index"])
            elif kind == "remove":
                self.aliases[spec["alias"]].discard(spec["index"])
            elif kind == "remove_index":
                self.indices.pop(spec["index"], None)
        return self._json({"acknowledged": True})

    def _get_alias(self, alias: str) -> Response:
        if not self.aliases.get(alias):
            return self._json({"error": f"alias [{alias}] missing", "status": 404}, 404)
        return self._json({index: {"aliases": {alias: {}}} for index in self.aliases[alias]})


def _response(hits: list[dict[str, Any]], total: int, aggregations: Any = None) -> dict[str, Any]:
    return {
        "took": 2,
        "timed_out": False,
        "hits": {"total": {"value": total, "relation": "eq"}, "max_score": None, "hits": hits},
        "aggregations": aggregations or {"kind": {"buckets": []}, "district": {"buckets": []}},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    server = HTTPServer(host="127.0.0.1", port=_free_port())
    fake = FakeCluster(server)
    server.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    server.start()
    try:
        yield fake
    finally:
        if server.is_running():
            server.stop()


@pytest.fixture
def es_app(app, session, cluster, monkeypatch):
    """The app configured for Elasticsearch at the stand-in cluster."""
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "elasticsearch")
    monkeypatch.setitem(app.config, "ELASTICSEARCH_URL", cluster.url)
    monkeypatch.setitem(app.config, "ELASTICSEARCH_INDEX", ALIAS)
    monkeypatch.setitem(app.config, "ELASTICSEARCH_TIMEOUT", 2.0)
    monkeypatch.setitem(app.config, "SEARCH_RETRY_SECONDS", 0)  # retry at once in tests
    return app


def public_in_database(session) -> dict[int, str]:
    rows = session.execute(select(Need.id, Need.state).where(Need.state.in_(PUBLIC_STATES)))
    return {need_id: state.value for need_id, state in rows}


def held(cluster: FakeCluster) -> dict[int, str]:
    return {need_id: source["state"] for need_id, source in cluster.documents().items()}


# --- what the backend sends --------------------------------------------------------------------


def test_rebuild_creates_the_mapping_bulk_indexes_and_swaps_the_alias(cluster):
    client = Elasticsearch(cluster.url, request_timeout=2, max_retries=0)
    backend = ElasticsearchBackend(client, alias=ALIAS)
    first = backend.create_index()
    assert cluster.aliases[ALIAS] == {first}

    documents = [
        _document(7, "安装扶手", "浴室需要安装扶手。", state="published"),
        _document(8, "电饭煲", "老人想要一个电饭煲。", state="claimed"),
    ]
    assert backend.rebuild(documents) == 2
    (created,) = [
        s for s in cluster.requests_to("PUT", r"/test-needs-\d+") if s.path != f"/{first}"
    ]
    new = created.path.strip("/")
    mapping = created.json()["mappings"]
    settings = created.json()["settings"]
    assert mapping["dynamic"] == "strict"
    for text_field in ("title", "story", "details", "places"):
        assert mapping["properties"][text_field] == {"type": "text", "analyzer": "cjk"}
    for words_field in ("tokens", "title_tokens"):
        assert mapping["properties"][words_field]["analyzer"] == "segmented"
    assert settings["analysis"]["analyzer"]["segmented"]["tokenizer"] == "whitespace"
    assert settings["index"]["refresh_interval"] == "-1"  # off while filling
    assert mapping["properties"]["location"] == {"type": "geo_point"}
    for keyword in ("kind", "category", "state", "district_code", "city_code"):
        assert mapping["properties"][keyword] == {"type": "keyword"}
    assert not {"household", "name", "phone", "address", "id_number"} & set(mapping["properties"])

    (bulk,) = cluster.requests_to("PUT|POST", r"/_bulk")
    operations = bulk.ndjson()
    assert operations[0] == {"index": {"_index": new, "_id": "7"}}
    source = operations[1]
    assert set(source) == PUBLIC_FIELDS
    assert "扶手" in source["tokens"].split() and source["location"] == {"lat": 23.1, "lon": 113.3}
    assert operations[3]["state"] == "claimed" and operations[3]["open"] is False

    # One atomic request moves the alias; then the old index goes.
    (swap,) = cluster.requests_to("POST", r"/_aliases")[-1:]
    assert swap.json()["actions"] == [
        {"remove": {"index": first, "alias": ALIAS}},
        {"add": {"index": new, "alias": ALIAS}},
    ]
    assert cluster.requests_to("DELETE", f"/{first}") and first not in cluster.indices
    assert cluster.aliases[ALIAS] == {new} and set(cluster.documents()) == {7, 8}


def _document(need_id: int, title: str, story: str, *, state: str) -> Any:
    from datetime import UTC, datetime

    from search import NeedDocument

    return NeedDocument(
        need_id=need_id,
        kind="repair",
        category="housing",
        state=state,
        district_code="440106",
        city_code="440100",
        urgency=2,
        published_at=datetime(2026, 5, 1, tzinfo=UTC),
        lat=23.1,
        lng=113.3,
        title=title,
        story=story,
        details="安安心善居",
        places="天河区",
    )


def test_search_sends_function_score_geo_distance_cjk_and_aggregations(cluster):
    client = Elasticsearch(cluster.url, request_timeout=2, max_retries=0)
    backend = ElasticsearchBackend(client, alias=ALIAS)
    query = SearchQuery(
        text="电饭煲扶手",
        kind="micro_wish",
        district="440106",
        near=Point(23.13, 113.26),
        radius_km=10,
        sort=Sort.DISTANCE,
        page=2,
        per_page=5,
    )
    backend.search(query)
    (sent,) = cluster.requests_to("GET|POST", f"/{ALIAS}/_search")
    body = sent.json()
    scored = body["query"]["function_score"]
    assert scored["score_mode"] == "sum" and scored["boost_mode"] == "multiply"
    functions = {next(iter(f)) for f in scored["functions"]}
    assert functions == {"field_value_factor", "gauss"}
    assert scored["functions"][0]["field_value_factor"]["field"] == "urgency"
    assert "published_at" in scored["functions"][1]["gauss"]
    boolean = scored["query"]["bool"]
    assert boolean["must"] == [{"match": {"tokens": {"query": "电饭煲 扶手", "operator": "and"}}}]
    cjk = [c["multi_match"] for c in boolean["should"] if "multi_match" in c]
    assert cjk and cjk[0]["analyzer"] == "cjk" and cjk[0]["query"] == "电饭煲扶手"
    filters = boolean["filter"]
    assert {"terms": {"state": ["published"]}} in filters
    assert {"term": {"kind": "micro_wish"}} in filters
    assert {"term": {"district_code": "440106"}} in filters
    (distance,) = [f["geo_distance"] for f in filters if "geo_distance" in f]
    assert distance["distance"] == "10.0km" and distance["location"] == {
        "lat": 23.13,
        "lon": 113.26,
    }
    assert body["sort"][0] == {"open": {"order": "desc"}}
    assert body["sort"][1]["_geo_distance"]["location"] == {"lat": 23.13, "lon": 113.26}
    assert body["aggs"] == {
        "kind": {"terms": {"field": "kind", "size": 10}},
        "district": {"terms": {"field": "district_code", "size": 500}},
    }
    assert body["from"] == 5 and body["size"] == 5 and body["track_total_hits"] is True

    backend.search(SearchQuery(text="农场"))
    relevance = cluster.requests_to("GET|POST", f"/{ALIAS}/_search")[-1].json()
    assert "_score" in relevance["sort"]
    assert not [
        f
        for f in relevance["query"]["function_score"]["query"]["bool"]["filter"]
        if "geo_distance" in f
    ]


def test_results_are_read_from_the_response(cluster):
    client = Elasticsearch(cluster.url, request_timeout=2, max_retries=0)
    backend = ElasticsearchBackend(client, alias=ALIAS)
    centre = Point(23.13, 113.26)
    cluster.search_response = _response(
        [
            {
                "_id": "42",
                "_score": None,
                "_source": {"location": {"lat": 23.175, "lon": 113.275}},
                "sort": [True, 5.1, 42],
            },
            {
                "_id": "7",
                "_score": None,
                "_source": {"location": {"lat": 23.075, "lon": 113.325}},
                "sort": [True, 8.9, 7],
            },
        ],
        total=12,
        aggregations={
            "kind": {
                "buckets": [
                    {"key": "repair", "doc_count": 9},
                    {"key": "micro_wish", "doc_count": 3},
                ]
            },
            "district": {
                "buckets": [{"key": "440104", "doc_count": 4}, {"key": "440106", "doc_count": 8}]
            },
        },
    )
    results = backend.search(SearchQuery(near=centre, radius_km=10, per_page=2))
    from geopy.distance import geodesic

    assert [h.need_id for h in results.hits] == [42, 7]
    assert results.hits[0].distance_km == pytest.approx(
        geodesic((23.13, 113.26), (23.175, 113.275)).km, abs=1e-9
    )
    assert results.total == 12 and results.engine == "elasticsearch"
    assert results.facets.kind == {"repair": 9, "micro_wish": 3}
    assert list(results.facets.district) == ["440106", "440104"]  # most first


def test_a_cluster_that_cannot_answer_raises_search_unavailable(cluster):
    client = Elasticsearch(cluster.url, request_timeout=2, max_retries=0)
    backend = ElasticsearchBackend(client, alias=ALIAS)
    cluster.outage = 503
    with pytest.raises(SearchUnavailable, match="503"):
        backend.search(SearchQuery(text="扶手"))
    with pytest.raises(SearchUnavailable):
        backend.upsert([_document(1, "扶手", "浴室需要安装扶手。", state="published")])
    assert backend.ping() is False
    cluster.outage = None
    cluster.stop()
    with pytest.raises(SearchUnavailable, match="ConnectionError"):
        backend.search(SearchQuery(text="扶手"))
    cluster.start()
    assert backend.ping() is True


def test_first_write_creates_the_index_behind_the_alias(cluster):
    client = Elasticsearch(cluster.url, request_timeout=2, max_retries=0)
    backend = ElasticsearchBackend(client, alias=ALIAS)
    backend.upsert([_document(1, "扶手", "浴室需要安装扶手。", state="published")])
    backend.remove([999])  # never indexed: fine
    assert set(cluster.documents()) == {1}
    bulks = cluster.requests_to("PUT|POST", r"/_bulk")
    assert all(b.args.get("require_alias") == "true" for b in bulks)
    assert ALIAS not in cluster.indices  # never an index guessed from the alias's name


# --- the outbox: nothing lost while the engine is down -------------------------------------------


def test_updates_made_while_the_cluster_is_down_arrive_when_it_returns(
    es_app, session, cluster, caplog
):
    caplog.set_level(logging.INFO, logger="app.search")
    open_needs = [
        need_in_state(NeedState.PUBLISHED, MicroWishFactory, item="电饭煲") for _ in range(3)
    ]
    farm = need_in_state(NeedState.PUBLISHED, FarmHelpFactory)
    draft = MicroWishFactory()
    session.commit()  # after commit, the outbox is delivered
    assert held(cluster) == public_in_database(session)
    assert search_index.pending_updates(session) == 0

    # The cluster fails (503): changes still commit, and wait in the outbox.
    cluster.outage = 503
    donor = UserFactory()
    lifecycle.transition(session, open_needs[0], "claim", donor, claimant_id=donor.id)
    worker = session.get(User, open_needs[1].created_by_id)
    lifecycle.transition(session, open_needs[1], "cancel", worker, note="已解决")
    session.commit()
    assert search_index.pending_updates(session) == 2
    assert held(cluster)[open_needs[0].id] == "published"  # stale, for now
    assert "Elasticsearch is unavailable" in caplog.text

    # Searches go to the database index meanwhile, and say so.
    page = search_index.search_needs(session, SearchQuery(text="电饭煲"))
    assert page.fallback and page.engine in ("sqlite", "postgresql")
    assert [n.id for n in page.items] == [open_needs[2].id]

    # Then it is gone altogether (connection refused).
    cluster.outage = None
    cluster.stop()
    from app.seed import advance

    advance(
        session,
        draft,
        NeedState.PUBLISHED,
        worker=session.get(User, draft.created_by_id),
        verifier=UserFactory(verifier=True),
    )
    lifecycle.transition(
        session, farm, "cancel", session.get(User, farm.created_by_id), note="天气原因取消"
    )
    session.commit()
    assert search_index.pending_updates(session) == 4

    # It returns: the next delivery (here the sweep's) brings it to exactly the database.
    cluster.start()
    from app.supervision.sweep import sweep

    sweep(session)
    session.commit()
    assert search_index.pending_updates(session) == 0
    assert held(cluster) == public_in_database(session)
    assert held(cluster)[open_needs[0].id] == "claimed" and draft.id in held(cluster)
    assert open_needs[1].id not in held(cluster) and farm.id not in held(cluster)


def test_reindex_after_an_outage_gives_exactly_the_public_needs(es_app, session, cluster):
    runner = es_app.test_cli_runner()
    needs = [need_in_state(NeedState.PUBLISHED) for _ in range(3)]
    session.commit()
    cluster.outage = 503
    lifecycle.transition(
        session, needs[0], "cancel", session.get(User, needs[0].created_by_id), note="已解决"
    )
    need_in_state(NeedState.CLAIMED, MicroWishFactory)
    session.commit()
    failed = runner.invoke(args=["search", "reindex", "--engine", "elasticsearch"])
    assert failed.exit_code == 1 and "stays in service" in failed.output

    cluster.outage = None
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Elasticsearch index (alias swapped)" in result.output
    assert held(cluster) == public_in_database(session)
    assert search_index.pending_updates(session) == 0
    assert len(cluster.aliases[ALIAS]) == 1 and len(cluster.indices) == 1


def test_while_the_cluster_is_down_searches_do_not_wait_for_it(es_app, session, cluster, caplog):
    es_app.config["SEARCH_RETRY_SECONDS"] = 60
    need = need_in_state(NeedState.PUBLISHED, MicroWishFactory, item="电饭煲")
    session.commit()
    cluster.outage = 503
    first = search_index.search_needs(session, SearchQuery(text="电饭煲"))
    tried = len(cluster.sent)
    second = search_index.search_needs(session, SearchQuery(text="电饭煲"))
    assert len(cluster.sent) == tried  # not asked again within the retry window
    assert [n.id for n in first.items] == [n.id for n in second.items] == [need.id]
    assert first.fallback and second.fallback
    assert caplog.text.count("Elasticsearch is unavailable") == 1


def test_healthz_reports_degraded_search_but_stays_up(es_app, client, cluster):
    healthy = client.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json["search"] == {
        "engine": "elasticsearch",
        "status": "ok",
        "pending_updates": 0,
    }
    cluster.stop()
    degraded = client.get("/healthz")
    assert degraded.status_code == 200 and degraded.json["database"] == "ok"
    assert degraded.json["status"] == "degraded"
    assert degraded.json["search"]["status"] == "degraded"
    assert degraded.json["search"]["fallback"] in ("sqlite", "postgresql")
    # The API keeps answering, from the database.
    assert client.get("/api/v1/needs?q=扶手").status_code == 200


def test_no_household_data_reaches_the_cluster(es_app, session, cluster):
    canary = {
        "name": "金丝雀戊己",
        "id_number": "44010619800101003X",
        "phone": "13700137000",
        "address": "天河区金丝雀路5号",
    }
    household = HouseholdFactory(**canary, lat=23.1357911, lng=113.3579111)
    need_in_state(NeedState.PUBLISHED, MicroWishFactory, household=household)
    session.commit()
    es_app.test_cli_runner().invoke(args=["search", "reindex"])
    everything = b"\n".join(s.body for s in cluster.sent).decode()
    assert "电饭煲" in everything
    for value in (*canary.values(), "23.1357911", "113.3579111", "金丝雀"):
        assert value not in everything


def test_readyz_through_a_search_outage_and_the_catch_up(es_app, client, session, cluster):
    """The drill as the load balancer sees it: the stand-in stops, the node stays in
    rotation reporting search degraded and the backlog growing; it returns, and one
    delivery brings the index up to date and /readyz back to ok."""
    need_id = need_in_state(NeedState.PUBLISHED, MicroWishFactory, item="电饭煲").id
    session.commit()
    assert client.get("/readyz").json["search"]["status"] == "ok"

    cluster.stop()
    need = session.get(Need, need_id)
    donor = UserFactory()
    lifecycle.transition(session, need, "claim", donor, claimant_id=donor.id)
    session.commit()
    ready = client.get("/readyz")
    assert ready.status_code == 200  # degraded search does not take the node out
    assert ready.json["status"] == "degraded"
    assert ready.json["search"]["status"] == "degraded"
    assert ready.json["search"]["pending_updates"] == 1
    assert client.get("/api/v1/needs?q=电饭煲").status_code == 200  # from the database

    cluster.start()
    from app.supervision.sweep import sweep

    sweep(session)  # the periodic delivery
    session.commit()
    ready = client.get("/readyz").json
    assert ready["search"] == {"engine": "elasticsearch", "status": "ok", "pending_updates": 0}
    assert held(cluster)[need_id] == "claimed"
