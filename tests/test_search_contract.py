"""The contract every search engine keeps.

Each test runs on every engine: the database index of the suite's database (SQLite by
default, PostgreSQL when ``TEST_DATABASE_URL`` points there: ``make test`` runs both), and
a real Elasticsearch cluster when ``ELASTICSEARCH_URL`` is set. Needs are made the way the
site makes them (the lifecycle), so the index is kept by the application's own hooks;
``engine.sync()`` only waits for what an engine does after commit.

The Elasticsearch backend is also checked request by request against a stand-in cluster
in ``tests/test_search_elasticsearch.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from geopy.distance import geodesic
from sqlalchemy import select

from app import search_index
from app.accounts.models import User
from app.needs import lifecycle
from app.needs.models import PUBLIC_STATES, CareCategory, Need, NeedState, Urgency
from search import Point, SearchQuery, SearchResults, Sort
from search.query import SearchBackend
from tests.factories import (
    SHUNDE,
    YUEXIU,
    FarmHelpFactory,
    HouseholdFactory,
    MicroWishFactory,
    RepairFactory,
    UserFactory,
    need_in_state,
)

ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")
ENGINES = [
    "database",
    pytest.param(
        "elasticsearch",
        marks=pytest.mark.skipif(
            not ELASTICSEARCH_URL, reason="no cluster: set ELASTICSEARCH_URL to run these"
        ),
    ),
]
CENTRE = Point(23.1291, 113.2644)  # Guangzhou, 越秀
CANARY = {
    "name": "金丝雀丙丁",
    "id_number": "44010619800101002X",
    "phone": "13800138000",
    "address": "越秀区金丝雀街77号",
}
CANARY_POINT = ("23.141592", "113.271828")


@dataclass
class Engine:
    """One engine under test, with the few things the contract needs of it."""

    name: str
    session: Any

    @property
    def backend(self) -> SearchBackend:
        if self.name == "database":
            return search_index.database_index(self.session)
        elastic = search_index.engines().elastic
        assert elastic is not None
        return elastic

    def sync(self) -> None:
        """Make everything done so far searchable."""
        self.session.commit()  # Elasticsearch hears of changes after commit
        if self.name == "elasticsearch":
            assert search_index.deliver_outbox(force=True) >= 0
            assert search_index.pending_updates(self.session) == 0
            search_index.engines().elastic.refresh_now()  # type: ignore[union-attr]

    def search(self, **kwargs: Any) -> SearchResults:
        self.sync()
        return self.backend.search(SearchQuery(**kwargs))

    def ids(self, **kwargs: Any) -> list[int]:
        return [hit.need_id for hit in self.search(**kwargs).hits]

    def reindex(self) -> None:
        self.session.commit()
        if self.name == "database":
            search_index.reindex_database(self.session)
        else:
            search_index.reindex_elasticsearch(self.session)
        self.sync()


@pytest.fixture(params=ENGINES)
def engine(request, app, session, monkeypatch) -> Iterator[Engine]:
    if request.param == "elasticsearch":
        monkeypatch.setitem(app.config, "SEARCH_BACKEND", "elasticsearch")
        monkeypatch.setitem(app.config, "ELASTICSEARCH_URL", ELASTICSEARCH_URL)
        monkeypatch.setitem(app.config, "ELASTICSEARCH_INDEX", f"test-needs-{uuid.uuid4().hex}")
        elastic = search_index.engines().elastic
        assert elastic is not None
        elastic.rebuild([])  # an empty index behind a fresh alias
        yield Engine("elasticsearch", session)
        for index in elastic.client.indices.get_alias(name=elastic.alias).body:
            elastic.client.indices.delete(index=index)
    else:
        yield Engine("database", session)


def published(factory=MicroWishFactory, state=NeedState.PUBLISHED, **kwargs: Any) -> Need:
    """A need taken through the lifecycle to ``state``; micro-wishes ask for a lamp unless
    told otherwise (the factory's default item is a rice cooker)."""
    if factory is MicroWishFactory:
        kwargs.setdefault("item", "台灯")
    return need_in_state(state, factory, **kwargs)


def at(km: float, bearing: float, centre: Point = CENTRE) -> dict[str, float]:
    """approx_lat/approx_lng of a point ``km`` away (geodesic) from ``centre``."""
    point = geodesic(kilometers=km).destination((centre.lat, centre.lng), bearing)
    return {"approx_lat": point.latitude, "approx_lng": point.longitude}


# --- words ---------------------------------------------------------------------------------


def test_two_character_chinese_words_find_the_needs_that_hold_them(engine):
    farm = published(FarmHelpFactory, title="帮忙收割", story="家里的农场稻子熟了，老人收不过来。")
    rail = published(RepairFactory, title="安装防滑设施", story="浴室需要安装扶手，防止老人摔倒。")
    cooker = published(title="需要做饭的锅", story="老人想要一个电饭煲，旧的坏了。", item="锅")
    lamp = published(title="学习台灯", story="孩子晚上做作业需要一盏台灯。")
    assert engine.ids(text="农场") == [farm.id]
    assert engine.ids(text="扶手") == [rail.id]
    assert engine.ids(text="电饭煲") == [cooker.id]
    assert engine.ids(text="台灯") == [lamp.id]
    assert set(engine.ids(text="老人")) == {farm.id, rail.id, cooker.id}
    assert engine.ids(text="老人 扶手") == [rail.id]  # every word must occur
    assert engine.ids(text="冰箱") == []


def test_words_of_the_item_task_and_place_are_found_too(engine):
    cooker = published(title="一份心愿", story="老人的心愿写在这里了。", item="电饭煲")
    other = published(
        title="另一份心愿",
        story="孩子的心愿写在这里了。",
        household=HouseholdFactory(district_code=SHUNDE),
    )
    assert engine.ids(text="电饭煲") == [cooker.id]
    assert engine.ids(text="顺德") == [other.id]  # district names are indexed words
    assert engine.ids(text="心愿 天河") == [cooker.id]


def test_relevance_puts_a_title_match_first(engine):
    in_story = published(title="一个心愿", story="家里需要扶手，还需要其他东西。")
    in_title = published(title="扶手", story="家里的老人行动不便，生活困难。")
    assert engine.ids(text="扶手") == [in_title.id, in_story.id]


# --- places ----------------------------------------------------------------------------------


def test_a_need_9_9_km_away_is_inside_10_km_and_one_at_10_1_km_is_not(engine):
    near = published(**at(9.9, 37))
    far = published(**at(10.1, 200))
    results = engine.search(near=CENTRE, radius_km=10)
    assert [hit.need_id for hit in results.hits] == [near.id]
    assert results.hits[0].distance_km == pytest.approx(9.9, abs=1e-6)
    wider = engine.search(near=CENTRE, radius_km=10.2)
    assert [(h.need_id, round(h.distance_km, 6)) for h in wider.hits] == [
        (near.id, 9.9),
        (far.id, 10.1),
    ]


def test_distance_sort_is_nearest_first_with_exact_distances(engine):
    needs = {km: published(**at(km, km * 40)) for km in (7.5, 0.4, 3.0, 12.0, 1.2)}
    results = engine.search(near=CENTRE, radius_km=10, sort=Sort.DISTANCE)
    assert [h.need_id for h in results.hits] == [needs[km].id for km in (0.4, 1.2, 3.0, 7.5)]
    assert [h.distance_km for h in results.hits] == pytest.approx([0.4, 1.2, 3.0, 7.5], abs=1e-6)
    assert results.total == 4


def test_words_and_place_together(engine):
    close = published(title="电饭煲", story="老人想要一个新的电饭煲。", **at(2, 90))
    published(title="电饭煲", story="老人想要一个新的电饭煲。", **at(40, 90))
    published(title="台灯", story="孩子想要一盏台灯。", **at(1, 90))
    results = engine.search(text="电饭煲", near=CENTRE, radius_km=10)
    assert [h.need_id for h in results.hits] == [close.id]
    assert results.hits[0].distance_km == pytest.approx(2, abs=1e-6)


# --- filters, states, facets, pages --------------------------------------------------------------


def test_filters_by_kind_category_district_and_city(engine):
    wish = published()
    farm = published(FarmHelpFactory, category=CareCategory.JOBS)
    repair = published(RepairFactory, household=HouseholdFactory(district_code=YUEXIU))
    shunde = published(household=HouseholdFactory(district_code=SHUNDE))
    assert set(engine.ids(kind="micro_wish")) == {wish.id, shunde.id}
    assert engine.ids(kind="farm_help") == [farm.id]
    assert engine.ids(category="jobs") == [farm.id]
    assert engine.ids(district=YUEXIU) == [repair.id]
    assert set(engine.ids(city="440100")) == {wish.id, farm.id, repair.id}  # Guangzhou
    assert engine.ids(city="440600") == [shunde.id]  # Foshan
    assert engine.ids(city="440300") == []


def test_only_published_needs_are_found_and_other_public_states_on_request(engine):
    by_state = {
        state: published(state=state, title="农场的心愿", story="家里的农场需要帮忙。")
        for state in NeedState
    }
    assert engine.ids(text="农场") == [by_state[NeedState.PUBLISHED].id]
    assert engine.ids(text="农场", states=frozenset({"claimed"})) == [
        by_state[NeedState.CLAIMED].id
    ]
    # Browsing lists every verified need, the open one first, and never the others.
    browse = engine.ids()
    assert set(browse) == {by_state[s].id for s in PUBLIC_STATES}
    assert browse[0] == by_state[NeedState.PUBLISHED].id
    assert engine.backend.indexed() == {by_state[s].id: s.value for s in PUBLIC_STATES}


def test_facets_count_every_page_by_kind_and_district(engine):
    for _ in range(3):
        published()
    published(FarmHelpFactory)
    published(RepairFactory, household=HouseholdFactory(district_code=YUEXIU))
    results = engine.search(per_page=2)
    assert results.total == 5 and len(results.hits) == 2
    assert results.facets.kind == {"micro_wish": 3, "farm_help": 1, "repair": 1}
    assert results.facets.district == {"440106": 4, YUEXIU: 1}
    near = engine.search(near=CENTRE, radius_km=200, kind="micro_wish", per_page=1)
    assert near.total == 3 and near.facets.kind == {"micro_wish": 3}


def test_pages_split_the_results_without_gaps(engine):
    made = {published(**at(km, 10)).id for km in range(1, 8)}
    for sort in (Sort.NEWEST, Sort.DISTANCE, Sort.URGENCY):
        seen: list[int] = []
        for page in (1, 2, 3):
            results = engine.search(near=CENTRE, radius_km=50, sort=sort, page=page, per_page=3)
            assert results.total == 7
            seen += [h.need_id for h in results.hits]
        assert sorted(seen) == sorted(made), sort
    assert engine.search(page=9, per_page=3).hits == []


def test_urgency_and_newest_orders(engine):
    normal = published()
    critical = published(urgency=Urgency.CRITICAL)
    low = published(urgency=Urgency.LOW)
    assert engine.ids(sort=Sort.URGENCY) == [critical.id, normal.id, low.id]
    assert engine.ids(sort=Sort.NEWEST) == [low.id, critical.id, normal.id]


# --- keeping up with the needs -----------------------------------------------------------------


def test_the_index_follows_the_lifecycle(engine, session):
    need = published(title="扶手", story="浴室需要安装扶手，防止老人摔倒。")
    assert engine.ids(text="扶手") == [need.id]
    donor = UserFactory()
    lifecycle.transition(session, need, "claim", donor, claimant_id=donor.id)
    assert engine.ids(text="扶手") == []
    assert engine.ids(text="扶手", states=frozenset({"claimed"})) == [need.id]
    worker = session.get(User, need.created_by_id)
    lifecycle.transition(session, need, "cancel", worker, note="家人已经解决")
    assert engine.ids(text="扶手", states=frozenset({"claimed"})) == []
    assert need.id not in engine.backend.indexed()


def test_reindex_brings_the_index_to_exactly_the_public_needs(engine, session):
    keep = [published(), published(FarmHelpFactory), published(state=NeedState.CLOSED)]
    drafts = [need_in_state(NeedState.SUBMITTED), need_in_state(NeedState.REJECTED)]
    engine.sync()
    # The index drifts: a public need goes missing, a draft gets in.
    from app.search_index.documents import document_from

    engine.backend.remove([keep[0].id])
    engine.backend.upsert([document_from(drafts[0])])
    engine.sync()
    assert set(engine.backend.indexed()) == {keep[1].id, keep[2].id, drafts[0].id}
    engine.reindex()
    public = session.execute(select(Need.id, Need.state).where(Need.state.in_(PUBLIC_STATES))).all()
    assert engine.backend.indexed() == {need_id: state.value for need_id, state in public}
    assert engine.ids(text="台灯") == [keep[0].id]


def test_household_data_is_never_indexed(engine, session):
    from app.needs import services
    from app.needs.models import NeedKind
    from app.seed import advance

    household = HouseholdFactory(
        **CANARY, district_code="440104", lat=float(CANARY_POINT[0]), lng=float(CANARY_POINT[1])
    )
    caseworker = session.get(User, household.created_by_id)
    data = services.NeedData(
        kind=NeedKind.MICRO_WISH,
        title="给独居老人的电饭煲",
        story="老人的电饭煲坏了，希望有一个新的。",
        category=CareCategory.LIVING,
        urgency=Urgency.HIGH,
        item="电饭煲",
        quantity=1,
        estimated_value_yuan=260,
    )
    need = services.create_need(session, caseworker, household, data)
    advance(
        session,
        need,
        NeedState.PUBLISHED,
        worker=caseworker,
        verifier=UserFactory(verifier=True, area_code="440104"),
    )
    engine.reindex()
    stored = engine.backend.stored_text()
    assert "电饭煲" in stored and str(need.approx_lat) in stored  # the index holds the need
    for field, value in CANARY.items():
        assert value not in stored, f"household {field} is in the index"
    for value in (*CANARY_POINT, "金丝雀"):
        assert value not in stored
