"""Search through the HTTP stack: the API, the needs page, /healthz and the commands."""

from __future__ import annotations

import json
import re

import pytest
from geopy.distance import geodesic

from app.needs.models import NeedState
from app.places import gazetteer
from tests.factories import (
    SHUNDE,
    YUEXIU,
    FarmHelpFactory,
    HouseholdFactory,
    MicroWishFactory,
    RepairFactory,
    need_in_state,
)

CENTRE = (23.1291, 113.2644)


def at(km: float, bearing: float = 90.0) -> dict[str, float]:
    point = geodesic(kilometers=km).destination(CENTRE, bearing)
    return {"approx_lat": point.latitude, "approx_lng": point.longitude}


def test_api_search_by_words_and_place(client, session):
    near = need_in_state(
        NeedState.PUBLISHED,
        RepairFactory,
        title="安装扶手",
        story="浴室需要安装扶手，防止老人摔倒。",
        **at(3),
    )
    need_in_state(
        NeedState.PUBLISHED,
        RepairFactory,
        title="安装扶手",
        story="浴室需要安装扶手，防止老人摔倒。",
        **at(30),
    )
    need_in_state(
        NeedState.CLAIMED,
        RepairFactory,
        title="安装扶手",
        story="浴室需要安装扶手，防止老人摔倒。",
        **at(1),
    )
    body = client.get(f"/api/v1/needs?q=扶手&lat={CENTRE[0]}&lng={CENTRE[1]}&radius_km=10").json
    assert [item["id"] for item in body["items"]] == [near.id]
    item = body["items"][0]
    assert item["distance_km"] == pytest.approx(3, abs=1e-3)
    assert item["location"]["approximate"] is True and "household" not in item
    assert body["total"] == 1 and body["page"] == 1 and body["per_page"] == 20
    assert body["facets"]["kind"] == [{"value": "repair", "label": "安心善居", "count": 1}]
    assert body["facets"]["district"][0]["count"] == 1

    everywhere = client.get("/api/v1/needs?q=扶手").json
    assert everywhere["total"] == 2  # the claimed one is not open
    assert all("distance_km" not in item for item in everywhere["items"])
    claimed = client.get("/api/v1/needs?q=扶手&status=claimed").json
    assert claimed["total"] == 1


def test_api_facets_and_english_labels(client, session):
    need_in_state(NeedState.PUBLISHED, MicroWishFactory)
    need_in_state(NeedState.PUBLISHED, FarmHelpFactory)
    need_in_state(
        NeedState.PUBLISHED, MicroWishFactory, household=HouseholdFactory(district_code=YUEXIU)
    )
    body = client.get("/api/v1/needs?per_page=1", headers={"Accept-Language": "en"}).json
    assert body["total"] == 3 and len(body["items"]) == 1
    assert body["facets"]["kind"] == [
        {"value": "micro_wish", "label": "Micro-wish", "count": 2},
        {"value": "farm_help", "label": "Farm help", "count": 1},
    ]
    assert {(f["value"], f["label"], f["count"]) for f in body["facets"]["district"]} == {
        ("440106", "Tianhe District", 2),
        (YUEXIU, "Yuexiu District", 1),
    }


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("lat=23.1", "lng", "both lat and lng"),
        ("lng=113.2", "lat", "both lat and lng"),
        ("radius_km=5", "radius_km", "needs a point"),
        ("sort=distance", "sort", "needs a point"),
        ("lat=23.1&lng=113.2&radius_km=0", "radius_km", ""),
        ("lat=23.1&lng=113.2&radius_km=500.5", "radius_km", ""),
        ("lat=91&lng=113.2", "lat", ""),
        ("lat=23.1&lng=200", "lng", ""),
        ("lat=nan&lng=113.2", "lat", ""),
        ("sort=closest", "sort", ""),
        ("q=" + "字" * 201, "q", ""),
    ],
)
def test_api_refuses_searches_it_cannot_run(client, query, field, words):
    response = client.get(f"/api/v1/needs?{query}", headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert words in " ".join(response.json["errors"][field])


def test_api_accepts_the_edges(client, session):
    for query in (
        "lat=23.1&lng=113.2&radius_km=500",
        "lat=23.1&lng=113.2&sort=distance",
        "q=%20",
        "sort=relevance",
        "lat=15&lng=104&radius_km=0.001",
        "lat=15.0&lng=104.0&radius_km=5e-324&sort=newest",  # found by schemathesis
        "q=扶手&lat=15.0&lng=104.0&radius_km=5e-324",
    ):
        assert client.get(f"/api/v1/needs?{query}").status_code == 200, query


def test_openapi_documents_the_search(client):
    doc = client.get("/api/v1/openapi.json").json
    operation = doc["paths"]["/needs"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "kind", "district", "city", "status", "page", "per_page"} <= names
    (point,) = [p for p in operation["parameters"] if p["name"] == "point_and_order"]
    assert point["style"] == "form" and point["explode"] is True
    assert set(point["schema"]["properties"]) == {"lat", "lng", "radius_km", "sort"}
    page = doc["components"]["schemas"]["NeedPage"]["properties"]
    assert {"items", "total", "page", "per_page", "facets"} <= set(page)
    assert "distance_km" in doc["components"]["schemas"]["NeedHit"]["properties"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/needs?q=电饭煲&lat=23.13&lng=113.26&radius_km=50&per_page={n}",
        "/api/v1/needs?q=电饭煲&per_page={n}",
        "/needs?q=电饭煲&near=440106",
    ],
)
def test_searching_costs_the_same_queries_for_more_results(client, app, count_queries, url):
    def publish(n: int) -> None:
        for _ in range(n):
            need_in_state(NeedState.PUBLISHED, MicroWishFactory, item="电饭煲")

    publish(2)
    with count_queries() as few:
        assert client.get(url.format(n=2)).status_code == 200
    publish(10)
    with count_queries() as many:
        response = client.get(url.format(n=12))
    assert response.status_code == 200
    assert many.count == few.count <= 3, many.statements


def test_needs_page_searches_by_words_and_near_a_district(client, session):
    tianhe = gazetteer.get("440106")
    close = need_in_state(
        NeedState.PUBLISHED,
        MicroWishFactory,
        title="电饭煲",
        approx_lat=tianhe.lat + 0.02,
        approx_lng=tianhe.lng,
    )
    need_in_state(
        NeedState.PUBLISHED,
        MicroWishFactory,
        title="电饭煲",
        household=HouseholdFactory(district_code=SHUNDE),
        approx_lat=22.8,
        approx_lng=113.2,
    )
    page = client.get("/needs?q=电饭煲&near=440106&radius_km=10").get_data(as_text=True)
    assert 'name="q" value="电饭煲"' in page
    assert page.count('class="card need-card') == 1 and f"/needs/{close.id}" in page
    assert re.search(r"2\.\d ?(km|公里)", page)  # its distance
    assert '<option value="440106" selected>' in page
    data = json.loads(page.split('id="needs-map-data">')[1].split("</script>")[0])
    assert data == [
        {
            "id": close.id,
            "title": "电饭煲",
            "lat": close.approx_lat,
            "lng": close.approx_lng,
            "url": f"/needs/{close.id}",
        }
    ]
    everywhere = client.get("/needs?q=电饭煲").get_data(as_text=True)
    assert everywhere.count('class="card need-card') == 2


def test_needs_page_ignores_what_it_cannot_use(client, session):
    need = need_in_state(NeedState.PUBLISHED)
    for query in (
        "sort=distance",
        "lat=abc&lng=113",
        "radius_km=-3",
        "near=999999",
        "lat=23.1",
        "status=draft",
        "sort=nonsense",
        "lat=inf&lng=113",
    ):
        response = client.get(f"/needs?{query}")
        assert response.status_code == 200, query
        assert f"/needs/{need.id}" in response.get_data(as_text=True), query


def test_needs_page_works_without_the_map(client, session, monkeypatch):
    from app.browse import views

    need_in_state(NeedState.PUBLISHED)
    monkeypatch.setattr(views, "_leaflet_installed", lambda _folder: False)
    page = client.get("/needs").get_data(as_text=True)
    assert "leaflet" not in page and "needs-map" not in page
    assert page.count('class="card need-card') == 1
    assert 'name="q"' in page and 'id="near-me"' in page


def test_needs_page_offers_the_map_when_leaflet_is_installed(client, session, monkeypatch):
    from app.browse import views

    need_in_state(NeedState.PUBLISHED)
    monkeypatch.setattr(views, "_leaflet_installed", lambda _folder: True)
    page = client.get("/needs").get_data(as_text=True)
    assert "vendor/leaflet/leaflet.js" in page and "vendor/leaflet/leaflet.css" in page
    assert 'id="needs-map"' in page and "tile.openstreetmap.org" in page


def test_healthz_names_the_search_engine(client):
    body = client.get("/healthz").json
    assert body["status"] == "ok"
    assert body["search"] == {
        "engine": client.application.config["DATABASE_URL"]
        .split(":")[0]
        .replace("postgresql+psycopg", "postgresql"),
        "status": "ok",
    }


def test_reindex_command_shows_progress_and_counts(app, session):
    need_in_state(NeedState.PUBLISHED)
    need_in_state(NeedState.CLAIMED)
    need_in_state(NeedState.DRAFT)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "index" in result.output and "2 public needs in the" in result.output
    status = runner.invoke(args=["search", "status"])
    assert "public needs in the database: 2" in status.output
    assert re.search(r"(sqlite|postgresql) index: 2", status.output)
    deliver = runner.invoke(args=["search", "deliver"])
    assert "needs no delivery" in deliver.output
    refused = runner.invoke(args=["search", "reindex", "--engine", "elasticsearch"])
    assert refused.exit_code == 1 and "not elasticsearch" in refused.output
