"""Search at provincial scale: 200 text+place queries over N published needs.

Data: N published needs (default 1,000,000; ``--quick`` 20,000; ``--size N``) spread over
Guangdong's districts, more in the big cities, at grid-snapped public locations, with
titles and stories made from a vocabulary of items, tasks and repairs. They are written
with executemany (SQLite) or COPY (PostgreSQL), then indexed by the application's own
``reindex`` path. Datasets are kept (``bench/results/search-N.sqlite3``, PostgreSQL
database ``shanlian_bench_search_N``) and reused by the next run; ``--size`` picks another.

Queries: 200 fixed ones (seeded): one or two words, a point near a district centre, a
radius of 5-30 km, sorted by relevance or by distance, page 1 of 20. Per engine:

- ``app``: the backend's ``search()``: the page, exact geodesic distances, total, facets.
- ``raw``: the same search as one hand-written statement on the engine (its own distance
  formula: haversine on SQLite, ``earth_distance`` on PostgreSQL): the page of 20 only.
- ``naive``: load the candidates (``LIKE`` over the text columns, no index) and keep those
  within the radius by geopy's geodesic in Python, on the first ``NAIVE_QUERIES``.

Targets (reported, not asserted): ``app`` p50 within 1.3x of ``raw``; ``naive`` at least
50x slower than ``app`` at 1,000,000 needs. PostgreSQL is used from ``BENCH_DATABASE_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``); Elasticsearch when
``ELASTICSEARCH_URL`` is set. ``python -m bench --only search [--quick] [--size N]``.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SIZE, QUICK_SIZE = 1_000_000, 20_000
QUERIES = 200
NAIVE_QUERIES, QUICK_NAIVE_QUERIES = 20, 50
WARMUP = 10
SEED = 2026
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"

ITEMS = [
    "电饭煲",
    "书包",
    "棉被",
    "轮椅",
    "台灯",
    "助听器",
    "电风扇",
    "冰箱",
    "校服",
    "保温杯",
    "老花镜",
    "拐杖",
    "收音机",
    "热水器",
    "洗衣机",
    "电脑",
    "课桌",
    "蚊帐",
    "雨衣",
    "暖风机",
]
TASKS = [
    "插秧",
    "割稻",
    "采摘荔枝",
    "农场除草",
    "搭大棚",
    "收甘蔗",
    "施肥",
    "种菜",
    "摘茶叶",
    "挖番薯",
]
REPAIRS = [
    "安装扶手",
    "浴室防滑",
    "屋顶补漏",
    "电线改造",
    "燃气阀门",
    "门窗维修",
    "墙面加固",
    "厨房改造",
    "水管更换",
    "照明改造",
]
PEOPLE = [
    "独居老人",
    "困难家庭",
    "残疾人家庭",
    "留守儿童",
    "低保户",
    "特困老人",
    "单亲家庭",
    "重病患者家庭",
]
SITUATIONS = [
    "生活比较困难",
    "行动不便",
    "收入微薄",
    "无劳动能力",
    "年老体弱",
    "家中无人照顾",
    "孩子正在上学",
    "刚做完手术",
]
BIG_CITIES = ("4401", "4403", "4406", "4419")  # Guangzhou, Shenzhen, Foshan, Dongguan
NEED_COLUMNS = (
    "id",
    "kind",
    "household_id",
    "created_by_id",
    "title",
    "story",
    "category",
    "district_code",
    "urgency",
    "approx_lat",
    "approx_lng",
    "state",
    "rejection_reason",
    "created_at",
    "updated_at",
    "published_at",
    "item",
    "quantity",
    "estimated_value_yuan",
    "task",
    "window_start",
    "window_end",
    "volunteers_needed",
    "hours_per_volunteer",
    "repair_category",
    "estimated_cost_yuan",
    "exception_note",
    "light",
    "light_reason",
    "thank_you",
)


@dataclass(frozen=True)
class Query:
    text: str
    lat: float
    lng: float
    radius_km: float
    by_distance: bool


# --- data -------------------------------------------------------------------------------------


def _needs(n: int, user_id: int, households: int) -> Iterator[tuple[Any, ...]]:
    from app.places import gazetteer

    rng = random.Random(SEED)  # noqa: S311 (benchmark data, not security)
    districts = gazetteer.districts()
    weights = [5 if d.code.startswith(BIG_CITIES) else 1 for d in districts]
    now = datetime(2026, 11, 1, tzinfo=UTC)
    start, end = now.date() + timedelta(days=10), now.date() + timedelta(days=12)
    cells: dict[tuple[float, float], tuple[float, float]] = {}
    for need_id in range(1, n + 1):
        district = rng.choices(districts, weights)[0]
        raw = (
            round(district.lat + rng.gauss(0, 0.07), 3),
            round(district.lng + rng.gauss(0, 0.07), 3),
        )
        if raw not in cells:  # the public location: the centre of a 0.05 degree cell
            cells[raw] = gazetteer.snap_to_grid(*raw, 0.05)
        lat, lng = cells[raw]
        kind = rng.choice(("micro_wish", "farm_help", "repair"))
        thing = rng.choice({"micro_wish": ITEMS, "farm_help": TASKS, "repair": REPAIRS}[kind])
        prefix = {"micro_wish": "微心愿", "farm_help": "助农耕", "repair": "安心善居"}[kind]
        story = f"{rng.choice(PEOPLE)}{rng.choice(SITUATIONS)}，希望得到{thing}方面的帮助。"
        published = now - timedelta(minutes=rng.randrange(0, 120 * 24 * 60))
        yield (
            need_id,
            kind,
            1 + need_id % households,
            user_id,
            f"{prefix}：{thing}",
            story,
            rng.choice(("living", "education", "medical", "housing")),
            district.code,
            rng.choice(("low", "normal", "normal", "high", "critical")),
            lat,
            lng,
            "published",
            "",
            published,
            published,
            published,
            thing if kind == "micro_wish" else None,
            1 if kind == "micro_wish" else None,
            300 if kind == "micro_wish" else None,
            thing if kind == "farm_help" else None,
            start if kind == "farm_help" else None,
            end if kind == "farm_help" else None,
            5 if kind == "farm_help" else None,
            4 if kind == "farm_help" else None,
            "other" if kind == "repair" else None,
            3000 if kind == "repair" else None,
            "",
            "green",
            "",
            "",
        )


def _queries(count: int) -> list[Query]:
    from app.places import gazetteer

    rng = random.Random(SEED + 1)  # noqa: S311
    districts = gazetteer.districts()
    weights = [5 if d.code.startswith(BIG_CITIES) else 1 for d in districts]
    words = ITEMS + TASKS + REPAIRS
    queries = []
    for _ in range(count):
        district = rng.choices(districts, weights)[0]
        text = rng.choice(words)
        if rng.random() < 0.3:
            text = f"{rng.choice(PEOPLE)} {text}"
        queries.append(
            Query(
                text=text,
                lat=district.lat + rng.gauss(0, 0.03),
                lng=district.lng + rng.gauss(0, 0.03),
                radius_km=float(rng.choice((5, 10, 20, 30))),
                by_distance=rng.random() < 0.5,
            )
        )
    return queries


def _build(app: Any, n: int) -> dict[str, float]:
    """Fill the app's (migrated, empty) database with ``n`` needs and index them."""
    from app.accounts.models import Role, User
    from app.extensions import db
    from app.search_index import reindex_database

    session = db.session
    user = User(
        email="bench@bench.example",
        password_hash="-",  # noqa: S106 (nobody signs in as this user)
        display_name="bench",
        role=Role.CASEWORKER,
        area_code="440000",
    )
    session.add(user)
    session.commit()
    households = max(1, n // 20)
    timings = {}
    started = time.perf_counter()
    engine = db.engine
    assert engine is not None
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        now = datetime(2026, 11, 1, tzinfo=UTC)
        household_rows = [
            (i, "440106", user.id, "户主", "", "", "", "elderly", 0, "", now)
            for i in range(1, households + 1)
        ]
        household_sql = (
            "households (id, district_code, created_by_id, name, id_number, phone, address, "
            '"group", need_score, notes, created_at)'
        )
        needs_sql = f"needs ({', '.join(NEED_COLUMNS)})"
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {household_sql} FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in household_rows:
                    copy.write_row(row)
            with cursor.copy(f"COPY {needs_sql} FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in _needs(n, user.id, households):
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(NEED_COLUMNS))
            cursor.execute("BEGIN")
            cursor.executemany(
                f"INSERT INTO {household_sql} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                [_sqlite_row(r) for r in household_rows],
            )
            cursor.executemany(
                f"INSERT INTO {needs_sql} VALUES ({marks})",  # noqa: S608 (constants)
                # sqlite3 takes any iterable: the rows stream rather than sit in memory
                (_sqlite_row(r) for r in _needs(n, user.id, households)),  # type: ignore[arg-type]
            )
        raw.commit()
    finally:
        raw.close()
    timings["insert_s"] = time.perf_counter() - started
    started = time.perf_counter()
    reindex_database(session)
    session.commit()
    timings["index_s"] = time.perf_counter() - started
    return timings


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Datetimes as SQLAlchemy stores them in SQLite (UTC, no zone)."""
    return tuple(
        v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, datetime)
        else v.isoformat()
        if hasattr(v, "isoformat")
        else v
        for v in row
    )


def _databases(n: int) -> list[tuple[str, str | None, str]]:
    """(engine, URL or None when unavailable, note) of each database to measure."""
    RESULTS.mkdir(exist_ok=True)
    found: list[tuple[str, str | None, str]] = [
        ("sqlite", f"sqlite:///{RESULTS / f'search-{n}.sqlite3'}", "")
    ]
    base = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG
    try:
        found.append(("postgresql", _postgres_database(base, f"shanlian_bench_search_{n}"), ""))
    except Exception as exc:  # no PostgreSQL here: say so in the table
        found.append(("postgresql", None, f"unavailable: {type(exc).__name__}"))
    return found


def _postgres_database(base: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _ready(app: Any, n: int) -> bool:
    """Whether the database already holds this dataset, indexed the way the code reads it
    (a dataset from older code fails the trial search and is built again)."""
    from sqlalchemy import text

    from app.extensions import db
    from app.search_index import database_index
    from search import Point, SearchQuery

    try:
        count = db.session.execute(text("SELECT count(*) FROM search_documents")).scalar()
        needs = db.session.execute(text("SELECT count(*) FROM needs")).scalar()
        database_index(db.session).search(
            SearchQuery(text=ITEMS[0], near=Point(23.13, 113.26), radius_km=5)
        )
    except Exception:
        db.session.rollback()
        return False
    finally:
        db.session.rollback()
    return count == n and needs == n


def _reset(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# --- timing -------------------------------------------------------------------------------------


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0] * 1000, ordered[0] * 1000
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000


def _time(
    queries: list[Query], run: Callable[[Query], Any], warmup: int = WARMUP
) -> tuple[float, float]:
    for query in queries[:warmup]:
        run(query)
    samples = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def _app_search(connection: Any) -> Callable[[Query], Any]:
    from search import Point, SearchQuery, Sort, database_backend

    backend = database_backend(connection)

    def run(q: Query) -> Any:
        return backend.search(
            SearchQuery(
                text=q.text,
                near=Point(q.lat, q.lng),
                radius_km=q.radius_km,
                sort=Sort.DISTANCE if q.by_distance else Sort.RELEVANCE,
            )
        )

    return run


# The app's candidate statements (words lead, each row's point checked against the box),
# with the distance filter, the order and the page done by the engine itself.
SQLITE_RAW = """
SELECT need_id, km FROM (
  SELECT d.need_id, {score} AS score,
         2 * 6371.0088 * asin(sqrt(
           power(sin(radians(d.lat - :lat) / 2), 2)
           + cos(radians(:lat)) * cos(radians(d.lat)) * power(sin(radians(d.lng - :lng) / 2), 2)
         )) AS km
  FROM search_fts CROSS JOIN search_documents d ON d.need_id = search_fts.rowid
  WHERE search_fts MATCH :match AND d.state = 'published'
    AND d.lat BETWEEN :south AND :north AND d.lng BETWEEN :west AND :east
) WHERE km <= :radius ORDER BY {order} LIMIT 20
"""

POSTGRES_RAW = """
SELECT need_id, earth_distance(ll_to_earth(%(lat)s, %(lng)s), ll_to_earth(lat, lng)) / 1000 AS km
FROM search_documents d, plainto_tsquery('simple', %(words)s) AS words
WHERE d.tokens @@ words AND d.cells && %(cells)s::integer[] AND d.state = 'published'
  AND d.lat BETWEEN %(south)s AND %(north)s AND d.lng BETWEEN %(west)s AND %(east)s
  AND earth_distance(ll_to_earth(%(lat)s, %(lng)s), ll_to_earth(d.lat, d.lng)) <= %(metres)s
ORDER BY {order} LIMIT 20
"""


def _raw_search(engine: Any) -> Callable[[Query], Any]:
    """The same search as one statement, on the driver's own cursor."""
    from search import geo, segment

    raw = engine.raw_connection()
    cursor = raw.cursor()

    if engine.dialect.name == "sqlite":
        by_score = SQLITE_RAW.format(
            score="-bm25(search_fts, 2.0, 1.0)", order="score DESC, need_id DESC"
        )
        by_km = SQLITE_RAW.format(score="0", order="km, need_id")

        def run_sqlite(q: Query) -> Any:
            box = geo.bounding_box(geo.Point(q.lat, q.lng), q.radius_km)
            match = " ".join(f'"{w}"' for w in segment(q.text))
            params = {
                "lat": q.lat,
                "lng": q.lng,
                "radius": q.radius_km,
                "match": match,
                "south": box.south,
                "north": box.north,
                "west": box.west,
                "east": box.east,
            }
            return cursor.execute(by_km if q.by_distance else by_score, params).fetchall()

        return run_sqlite

    by_rank = POSTGRES_RAW.format(order="ts_rank(d.tokens, words) DESC, need_id DESC")
    by_km_pg = POSTGRES_RAW.format(order="km, need_id")

    def run_postgres(q: Query) -> Any:
        box = geo.bounding_box(geo.Point(q.lat, q.lng), q.radius_km)
        params = {
            "lat": q.lat,
            "lng": q.lng,
            "words": " ".join(segment(q.text)),
            "metres": q.radius_km * 1000,
            "south": box.south,
            "north": box.north,
            "west": box.west,
            "east": box.east,
            "cells": geo.cells_covering(box),
        }
        cursor.execute(by_km_pg if q.by_distance else by_rank, params)
        rows = cursor.fetchall()
        raw.commit()
        return rows

    return run_postgres


def _naive_search(engine: Any) -> Callable[[Query], Any]:
    """Load the candidates that hold the words, keep those within the radius by geopy."""
    from geopy.distance import geodesic

    from search import segment

    raw = engine.raw_connection()
    cursor = raw.cursor()
    mark = "?" if engine.dialect.name == "sqlite" else "%s"

    def run(q: Query) -> Any:
        words = segment(q.text)
        where = " AND ".join(
            f"(title LIKE {mark} OR story LIKE {mark} OR item LIKE {mark} OR task LIKE {mark})"
            for _ in words
        )
        params = [f"%{w}%" for w in words for _ in range(4)]
        cursor.execute(
            f"SELECT id, approx_lat, approx_lng FROM needs WHERE state = 'published' AND {where}",  # noqa: S608
            params,
        )
        found = []
        for need_id, lat, lng in cursor.fetchall():
            km = geodesic((q.lat, q.lng), (lat, lng)).km
            if km <= q.radius_km:
                found.append((km, need_id))
        found.sort()
        if engine.dialect.name != "sqlite":
            raw.commit()
        return found[:20]

    return run


def _elasticsearch_rows(app: Any, n: int, queries: list[Query]) -> list[dict[str, Any]]:
    from elasticsearch import Elasticsearch

    from app.extensions import db
    from app.search_index.documents import public_documents
    from search import Point, SearchQuery, Sort
    from search.elastic import ElasticsearchBackend

    client = Elasticsearch(os.environ["ELASTICSEARCH_URL"], request_timeout=120)
    backend = ElasticsearchBackend(client, alias=f"shanlian-bench-{n}")
    try:
        count = client.count(index=backend.alias)["count"]
    except Exception:
        count = -1
    if count != n:
        backend.rebuild(public_documents(db.session))

    def search_query(q: Query) -> SearchQuery:
        return SearchQuery(
            text=q.text,
            near=Point(q.lat, q.lng),
            radius_km=q.radius_km,
            sort=Sort.DISTANCE if q.by_distance else Sort.RELEVANCE,
        )

    rows = []
    p50, p95 = _time(queries, lambda q: backend.search(search_query(q)))
    rows.append(_row("elasticsearch", "app", n, len(queries), p50, p95))
    raw_p50, raw_p95 = _time(
        queries,
        lambda q: client.search(index=backend.alias, **backend.search_request(search_query(q))),
    )
    rows.append(_row("elasticsearch", "raw", n, len(queries), raw_p50, raw_p95))
    rows.append(_ratios("elasticsearch", p50, raw_p50, None))
    return rows


def _row(
    engine: str, method: str, n: int, queries: int, p50: float, p95: float, note: str = ""
) -> dict[str, Any]:
    return {
        "engine": engine,
        "method": method,
        "needs": n,
        "queries": queries,
        "p50_ms": round(p50, 3),
        "p95_ms": round(p95, 3),
        "note": note,
    }


def _ratios(engine: str, app_p50: float, raw_p50: float, naive_p50: float | None) -> dict[str, Any]:
    app_vs_raw = app_p50 / raw_p50 if raw_p50 else float("inf")
    note = f"app/raw {app_vs_raw:.2f}x ({'meets' if app_vs_raw <= 1.3 else 'misses'} <= 1.3x)"
    if naive_p50 is not None:
        speedup = naive_p50 / app_p50 if app_p50 else float("inf")
        note += f"; naive/app {speedup:,.0f}x ({'meets' if speedup >= 50 else 'misses'} >= 50x)"
    return {"engine": engine, "method": "targets", "note": note}


# --- the benchmark ------------------------------------------------------------------------------


def run(args: Any) -> list[dict[str, Any]]:
    from app import create_app, migrate
    from app.extensions import db

    quick = bool(getattr(args, "quick", False))
    n = getattr(args, "size", None) or (QUICK_SIZE if quick else SIZE)
    queries = _queries(QUERIES)
    naive_queries = queries[: QUICK_NAIVE_QUERIES if quick else NAIVE_QUERIES]
    rows: list[dict[str, Any]] = []
    for engine_name, url, note in _databases(n):
        if url is None:
            rows.append({"engine": engine_name, "method": "-", "needs": n, "note": note})
            continue
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench" * 8,
                "SHANLIAN_ENV": "testing",
                "SEARCH_BACKEND": "database",
            }
        )
        with app.app_context():
            engine = db.engine
            assert engine is not None
            if not _ready(app, n):
                db.remove()
                engine.dispose()  # no connection may keep the old file open
                _reset(url)
                migrate.upgrade(engine)
                build = _build(app, n)
                rows.append(
                    {
                        "engine": engine_name,
                        "method": "build",
                        "needs": n,
                        "note": f"insert {build['insert_s']:.0f} s, "
                        f"index (app reindex) {build['index_s']:.0f} s",
                    }
                )
            db.remove()
            if engine.dialect.name == "postgresql":
                with engine.begin() as connection:
                    connection.exec_driver_sql("ANALYZE")
            with engine.connect() as connection:
                app_p50, app_p95 = _time(queries, _app_search(connection))
            rows.append(_row(engine_name, "app", n, len(queries), app_p50, app_p95))
            raw_p50, raw_p95 = _time(queries, _raw_search(engine))
            rows.append(_row(engine_name, "raw", n, len(queries), raw_p50, raw_p95))
            naive_p50, naive_p95 = _time(naive_queries, _naive_search(engine), warmup=1)
            rows.append(
                _row(
                    engine_name,
                    "naive",
                    n,
                    len(naive_queries),
                    naive_p50,
                    naive_p95,
                    "LIKE scan + geopy in Python",
                )
            )
            rows.append(_ratios(engine_name, app_p50, raw_p50, naive_p50))
            if os.environ.get("ELASTICSEARCH_URL") and engine_name == "sqlite":
                rows += _elasticsearch_rows(app, n, queries)
            engine.dispose()
    return rows
