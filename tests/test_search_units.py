"""The pure parts of ``search``: segmenting Chinese, geodesic distances, the query rules."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from geopy.distance import geodesic

from app.needs.models import PUBLIC_STATES as APP_PUBLIC_STATES
from app.needs.models import NeedKind
from search import PUBLIC_STATES, Point, QueryError, SearchQuery, Sort, geo, segment
from search.query import KINDS


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("家里的农场需要人帮忙收割", "农场"),
        ("浴室安装扶手，防止老人摔倒", "扶手"),
        ("老人需要一个电饭煲做饭", "电饭煲"),
    ],
)
def test_two_character_words_come_out_whole(text, word):
    assert word in segment(text)
    assert word in segment(text, for_index=True)
    assert segment(word) == [word]  # the query for the word is the word


def test_index_also_keeps_the_words_inside_long_words():
    assert segment("电饭煲") == ["电饭煲"]
    assert {"饭煲", "电饭煲"} <= set(segment("电饭煲", for_index=True))


def test_punctuation_is_dropped_and_latin_lowercased():
    assert segment("Hello，世界！ rice-cooker 2个") == [
        "hello",
        "世界",
        "rice",
        "cooker",
        "2",
        "个",
    ]
    assert segment("   ") == [] and segment("") == []
    assert segment('"OR" AND * ^') == ["or", "and"]  # nothing left that an engine parses


def test_jieba_loads_quietly_in_a_fresh_process():
    """Importing and first use print nothing (jieba's "Building prefix dict" is silenced)
    and raise no warning."""
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "from search import segment; print(segment('安装扶手'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "['安装', '扶手']"
    assert result.stderr == ""


def test_geodesic_is_geopys():
    rng = random.Random(5)
    for _ in range(200):
        a = Point(rng.uniform(20, 26), rng.uniform(109, 118))
        b = Point(rng.uniform(20, 26), rng.uniform(109, 118))
        assert geo.geodesic_km(a, b) == pytest.approx(
            geodesic((a.lat, a.lng), (b.lat, b.lng)).km, abs=1e-9
        )


def test_sphere_stays_within_its_error_bound():
    rng = random.Random(6)
    for _ in range(2000):
        a = Point(rng.uniform(-80, 80), rng.uniform(-180, 180))
        km = rng.choice([0.05, 1, 10, 100, 2000])
        target = geodesic(kilometers=km).destination((a.lat, a.lng), rng.uniform(0, 360))
        b = Point(target.latitude, target.longitude)
        assert abs(geo.sphere_km(a, b) / km - 1) < geo.SPHERE_ERROR / 1.5


def test_bounding_box_holds_the_whole_circle():
    rng = random.Random(7)
    for _ in range(300):
        centre = Point(rng.uniform(18, 27), rng.uniform(105, 120))
        radius = rng.choice([0.5, 5, 10, 50, 500])
        box = geo.bounding_box(centre, radius)
        for bearing in range(0, 360, 15):
            edge = geodesic(kilometers=radius).destination((centre.lat, centre.lng), bearing)
            assert box.south <= edge.latitude <= box.north
            assert box.west <= edge.longitude <= box.east


def test_cells_covering_a_box_hold_every_point_in_it():
    rng = random.Random(9)
    for _ in range(300):
        centre = Point(rng.uniform(18, 27), rng.uniform(105, 120))
        box = geo.bounding_box(centre, rng.choice([1, 5, 10, 25, 60, 200, 500]))
        covering = set(geo.cells_covering(box))
        assert len(covering) <= 200
        for _ in range(20):
            lat, lng = rng.uniform(box.south, box.north), rng.uniform(box.west, box.east)
            assert covering & set(geo.cell_keys(lat, lng)), (box, lat, lng)
        for corner in ((box.south, box.west), (box.north, box.east)):
            assert covering & set(geo.cell_keys(*corner))


def _brute_force(points, centre, radius, count):
    exact = sorted((geo.geodesic_km(centre, p), i) for i, p in enumerate(points))
    return [(i, d) for d, i in exact if d <= radius][:count]


def test_within_and_nearest_agree_with_brute_force_at_the_edges():
    """Points crowd the boundary, where the spherical shortcut could be wrong."""
    rng = random.Random(8)
    centre = Point(23.13, 113.26)
    points = []
    for _ in range(400):
        km = rng.choice([rng.uniform(9.8, 10.2), rng.uniform(0, 30), 10.0])
        p = geodesic(kilometers=km).destination((centre.lat, centre.lng), rng.uniform(0, 360))
        points.append(Point(p.latitude, p.longitude))
    indexed = list(enumerate(points))
    where = lambda item: (item[1].lat, item[1].lng)  # noqa: E731
    inside = geo.within(indexed, where, geo.Ruler(centre), 10.0)
    expected = _brute_force(points, centre, 10.0, len(points))
    assert sorted(item[0] for item, _loc in inside) == sorted(i for i, _d in expected)
    for count in (1, 7, 20, len(expected)):
        nearest = geo.nearest(inside, where, lambda item: item[0], geo.Ruler(centre), count)
        assert [item[0] for item, _loc in nearest] == [i for i, _d in expected[:count]]
        assert [loc.exact for _item, loc in nearest] == pytest.approx(
            [d for _i, d in expected[:count]], abs=1e-9
        )


def test_states_and_kinds_match_the_models():
    assert {s.value for s in APP_PUBLIC_STATES} == PUBLIC_STATES
    assert {k.value for k in NeedKind} == KINDS


def test_a_search_finds_open_needs_and_browsing_lists_every_public_one():
    assert SearchQuery().effective_states == PUBLIC_STATES
    assert SearchQuery(text="农场").effective_states == {"published"}
    assert SearchQuery(near=Point(23, 113)).effective_states == {"published"}
    assert SearchQuery(text="农场", states=frozenset({"claimed"})).effective_states == {"claimed"}


def test_default_order_follows_what_was_asked():
    assert SearchQuery().effective_sort is Sort.NEWEST
    assert SearchQuery(text="扶手").effective_sort is Sort.RELEVANCE
    assert SearchQuery(near=Point(23, 113)).effective_sort is Sort.DISTANCE
    assert SearchQuery(text="扶手", near=Point(23, 113)).effective_sort is Sort.RELEVANCE
    assert SearchQuery(sort=Sort.RELEVANCE).effective_sort is Sort.NEWEST  # no words to rank
    assert SearchQuery(text="   ").words == ()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": Sort.DISTANCE}, "sort"),
        ({"radius_km": 10}, "radius_km"),
        ({"near": Point(23, 113), "radius_km": 0}, "radius_km"),
        ({"near": Point(23, 113), "radius_km": 500.01}, "radius_km"),
        ({"near": Point(23, 113), "radius_km": float("nan")}, "radius_km"),
        ({"near": Point(91, 113)}, "lat"),
        ({"states": frozenset({"draft"})}, "status"),
        ({"page": 0}, "page"),
        ({"per_page": 101}, "per_page"),
    ],
)
def test_impossible_searches_say_which_parameter(kwargs, field):
    with pytest.raises(QueryError) as caught:
        SearchQuery(**kwargs)
    assert caught.value.field == field and caught.value.message
