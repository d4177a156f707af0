"""Report dashboards at scale: 1,000,000 needs and 5,000,000 need events on PostgreSQL.

Fills a fresh database inside the engine (``generate_series``; a recursive CTE on SQLite),
rebuilds the rollups once (what the worker does every ``REPORT_REFRESH_MINUTES``), then
times every query a dashboard, the JSON endpoint and the public page run, for the
province, a city and a district, and prints each one's p50 and p95 (target: p95 under
200 ms). ``--quick``: 50,000 needs and 250,000 events. SQLite runs the quick size only.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \
        .venv/bin/python -m bench --only reports
"""

# The fill builds its SQL from constants of this file (no input reaches it).
# ruff: noqa: S608

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import text

NEEDS = 1_000_000
QUICK_NEEDS = 50_000
EVENTS_PER_NEED = 5
REPEATS = 20
TARGET_MS = 200


def _databases(tmp: str, quick: bool) -> list[tuple[str, str, int]]:
    urls = [("sqlite", f"sqlite:///{tmp}/reports.sqlite3", QUICK_NEEDS)]
    pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if pg and pg.startswith("postgres"):
        from tests.databases import fresh_database

        url = fresh_database(pg, "bench_reports", tmp)  # type: ignore[arg-type]
        urls.append(("postgresql", url, QUICK_NEEDS if quick else NEEDS))
    return urls


def _fill(session: Any, n_needs: int) -> None:
    """Households, needs and their events, written by the database itself."""
    from app.accounts.models import Role, User
    from app.places import gazetteer

    postgres = session.get_bind().dialect.name == "postgresql"
    user = User(
        email="bench@bench.example",
        password_hash="x",  # noqa: S106 - nobody signs in to the benchmark
        display_name="bench",
        role=Role.CASEWORKER,
        area_code="440000",
    )
    session.add(user)
    session.flush()
    districts = [d.code for d in gazetteer.districts()]
    session.execute(text("CREATE TABLE bench_districts (idx INTEGER PRIMARY KEY, code TEXT)"))
    session.execute(
        text("INSERT INTO bench_districts (idx, code) VALUES (:i, :c)"),
        [{"i": i, "c": code} for i, code in enumerate(districts)],
    )
    if postgres:
        series = "SELECT generate_series(1, :n) AS i"
        rnd = "floor(random() * {n})::int"
        at = (
            "(timestamptz '2025-01-01 00:00+00' + ({days}) * interval '1 day'"
            " + ({hours}) * interval '1 hour')"
        )
    else:
        series = (
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
            "SELECT i FROM s"
        )
        rnd = "(abs(random()) % {n})"
        at = "datetime('2025-01-01', '+' || ({days}) || ' days', '+' || ({hours}) || ' hours')"
    n_households = max(1, n_needs // 5)
    from app.needs.models import PersonGroup

    groups = [g.value for g in PersonGroup]
    pick = "CASE {x} " + " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(groups)) + " END"
    session.execute(
        text(
            f"""INSERT INTO households (id, district_code, created_by_id, name, id_number, phone,
                address, "group", need_score, notes, created_at)
            SELECT s.i, d.code, :uid, 'h', '440106195001010010', '13800000000', 'x',
                {pick.format(x="s.i % 7")}, 0, '', {at.format(days="s.i % 700", hours="0")}
            FROM ({series}) s JOIN bench_districts d ON d.idx = s.i % {len(districts)}"""
        ),
        {"n": n_households, "uid": user.id},
    )
    kinds = "CASE s.i % 3 WHEN 0 THEN 'micro_wish' WHEN 1 THEN 'farm_help' ELSE 'repair' END"
    categories = (
        "CASE s.i % 6 WHEN 0 THEN 'visits' WHEN 1 THEN 'living' WHEN 2 THEN 'education' "
        "WHEN 3 THEN 'jobs' WHEN 4 THEN 'medical' ELSE 'housing' END"
    )
    # Seven needs in ten are confirmed; the rest are claimed and carry a light.
    state = "CASE WHEN s.i % 10 < 7 THEN 'confirmed' ELSE 'claimed' END"
    light = (
        "CASE WHEN s.i % 10 < 7 THEN 'none' WHEN s.i % 10 = 7 THEN 'red' "
        "WHEN s.i % 10 = 8 THEN 'yellow' ELSE 'green' END"
    )
    day = "(s.i * 7) % 700"
    session.execute(
        text(
            f"""INSERT INTO needs (id, kind, household_id, created_by_id, title, story, category,
                district_code, urgency, approx_lat, approx_lng, state, rejection_reason,
                created_at, updated_at, published_at, exception_note, light, light_reason,
                thank_you)
            SELECT s.i, {kinds}, h.id, :uid, 'need', 'story', {categories}, h.district_code,
                'normal', 23.1, 113.3, {state}, '', {at.format(days=day, hours="0")},
                {at.format(days=day, hours="30")}, {at.format(days=day, hours="24")}, '',
                {light}, '', ''
            FROM ({series}) s JOIN households h ON h.id = 1 + (s.i % {n_households})"""
        ),
        {"n": n_needs, "uid": user.id},
    )
    claim_hours = f"24 + {rnd.format(n=200)}"
    need_day = day.replace("s.i", "n.id")
    steps = [
        ("NULL", "draft", "create", "0"),
        ("'draft'", "submitted", "submit", "2"),
        ("'submitted'", "published", "approve", "24"),
        ("'published'", "claimed", "claim", claim_hours),
    ]
    for from_state, to_state, action, hours in steps:
        session.execute(
            text(
                f"""INSERT INTO need_events (need_id, at, from_state, to_state, action, note)
                SELECT n.id, {at.format(days=need_day, hours=hours)},
                    {from_state}, '{to_state}', '{action}', ''
                FROM needs n"""
            )
        )
    session.execute(
        text(
            f"""INSERT INTO need_events (need_id, at, from_state, to_state, action, note)
            SELECT n.id, {at.format(days=need_day, hours="300 + " + rnd.format(n=400))},
                CASE WHEN n.state = 'confirmed' THEN 'delivered' ELSE 'claimed' END,
                CASE WHEN n.state = 'confirmed' THEN 'confirmed' ELSE 'claimed' END,
                CASE WHEN n.state = 'confirmed' THEN 'confirm' ELSE 'remind' END, ''
            FROM needs n"""
        )
    )
    session.execute(text("DROP TABLE bench_districts"))
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()


def _timed(call: Callable[[], Any]) -> tuple[float, float]:
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


def _queries(session: Any, area: Any, period: Any) -> list[tuple[str, Callable[[], Any]]]:
    """Every query behind a dashboard, the API summary and the monthly report."""
    from app.reports import services

    def needs_by(group_by: str) -> Callable[[], Any]:
        return lambda: services.needs_by(session, area, period, group_by)

    return [
        *((f"needs by {g}", needs_by(g)) for g in services.GROUP_BY),
        ("households recorded", lambda: services.households_recorded(session, area, period)),
        ("waits (median, p90)", lambda: services.durations(session, area, period)),
        ("lights", lambda: services.lights(session, area)),
        ("help given", lambda: services.value_given(session, area, period)),
        ("top organisations", lambda: services.top_organisations(session, area, period)),
        ("red list (monthly report)", lambda: services.overdue_needs(session, area)),
        ("whole summary (API)", lambda: services.summary(session, area, period, "month")),
    ]


def run(args: Any) -> list[dict[str, Any]]:
    from app import create_app, migrate
    from app.extensions import db
    from app.places import gazetteer
    from app.reports import rollups, services

    quick = bool(getattr(args, "quick", False))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name, url, n_needs in _databases(tmp, quick):
            app = create_app(
                {"DATABASE_URL": url, "SECRET_KEY": "bench" * 8, "SHANLIAN_ENV": "testing"}
            )
            with app.app_context(), app.test_request_context():
                assert db.engine is not None
                migrate.upgrade(db.engine)
                start = time.perf_counter()
                _fill(db.session, n_needs)
                filled = time.perf_counter() - start
                events = db.session.scalar(text("SELECT count(*) FROM need_events"))
                start = time.perf_counter()
                rollups.refresh(db.session)
                db.session.commit()
                refreshed = time.perf_counter() - start
                results.append(
                    {
                        "bench": "reports",
                        "engine": engine_name,
                        "needs": n_needs,
                        "events": int(events or 0),
                        "query": f"fill {filled:.0f} s; rollup refresh (worker)",
                        "p50_ms": round(refreshed * 1000, 1),
                        "p95_ms": round(refreshed * 1000, 1),
                    }
                )
                period = services.parse_period("2025")
                for code in (gazetteer.PROVINCE_CODE, "440100", "440106"):
                    area = gazetteer.get(code)
                    assert area is not None
                    queries = _queries(db.session, area, period)
                    for name, call in queries:
                        p50, p95 = _timed(call)
                        results.append(
                            {
                                "bench": "reports",
                                "engine": engine_name,
                                "needs": n_needs,
                                "events": int(events or 0),
                                "query": f"{area.level} {code}: {name}",
                                "p50_ms": round(p50, 2),
                                "p95_ms": round(p95, 2),
                                "ok": "yes" if p95 < TARGET_MS else "NO",
                            }
                        )
                p50, p95 = _timed(partial(services.public_summary, db.session, period))
                results.append(
                    {
                        "bench": "reports",
                        "engine": engine_name,
                        "needs": n_needs,
                        "events": int(events or 0),
                        "query": "public transparency page",
                        "p50_ms": round(p50, 2),
                        "p95_ms": round(p95, 2),
                        "ok": "yes" if p95 < TARGET_MS else "NO",
                    }
                )
                db.remove()
                db.engine.dispose()
    return results


if __name__ == "__main__":  # python -m bench.reports_bench [--quick]
    import argparse
    import sys

    from bench.__main__ import table

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(table(run(parser.parse_args(sys.argv[1:]))))
