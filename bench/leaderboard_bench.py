"""Leaderboards over a large points ledger: latency and the number of SQL statements.

Builds a ledger of 100,000 entries (``--quick``: 10,000) for 500 companies, 200 teams and
5,000 people across Guangdong, then times each board (companies/teams/people × month/year/
all time, province-wide and for one city). Runs on a fresh SQLite file, and on PostgreSQL
when ``BENCH_DATABASE_URL`` (or ``TEST_DATABASE_URL``) points at one.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, text

ENTRIES = 100_000
QUICK_ENTRIES = 10_000
REPEATS = 30


def _databases(tmp: str) -> list[tuple[str, str]]:
    urls = [("sqlite", f"sqlite:///{tmp}/leaderboard.sqlite3")]
    pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if pg and pg.startswith("postgres"):
        from tests.conftest import fresh_database

        urls.append(("postgresql", fresh_database(pg, "bench_leaderboard", tmp)))  # type: ignore[arg-type]
    return urls


def _fill(session: Any, n_entries: int, rng: random.Random) -> None:
    from app.accounts.models import Organisation, OrgKind, OrgStatus, Role, User
    from app.models_base import utcnow
    from app.places import gazetteer
    from app.points.models import EntryKind, PointsEntry

    districts = [d.code for d in gazetteer.districts()]
    now = utcnow()
    orgs = [
        {
            "kind": OrgKind.COMPANY if i < 500 else OrgKind.TEAM,
            "name": f"org{i}",
            "district_code": rng.choice(districts),
            "status": OrgStatus.VERIFIED,
            "licence_number": f"91440000MA{i:06d}0X" if i < 500 else None,
            "description": "",
            "status_note": "",
            "radius_km": 30,
            "available_weekdays": "1234567",
            "created_at": now,
        }
        for i in range(700)
    ]
    session.execute(insert(Organisation), orgs)
    people = [
        {
            "email": f"p{i}@bench.example",
            "password_hash": "x",
            "display_name": f"p{i}",
            "role": Role.DONOR,
            "is_active_account": True,
            "locale": "zh",
            "created_at": now,
        }
        for i in range(5000)
    ]
    session.execute(insert(User), people)
    rows = []
    for i in range(n_entries):
        to_org = rng.random() < 0.6
        rows.append(
            {
                "owner_org_id": rng.randint(1, 700) if to_org else None,
                "owner_user_id": None if to_org else rng.randint(1, 5000),
                "amount": rng.randint(1, 200),
                "kind": EntryKind.EARN,
                "rule": "bench",
                "reason": "bench",
                "source_kind": "bench",
                "source_id": i,
                "district_code": rng.choice(districts),
                "dedupe_key": f"bench:{i}",
                "created_at": now - timedelta(days=rng.randint(0, 720)),
            }
        )
        if len(rows) == 10_000:
            session.execute(insert(PointsEntry), rows)
            rows = []
    if rows:
        session.execute(insert(PointsEntry), rows)
    session.commit()
    # Fresh statistics, as autovacuum would have gathered on a live database.
    session.execute(text("ANALYZE"))
    session.commit()


def run(args: Any) -> list[dict[str, Any]]:
    from app import create_app, migrate
    from app.extensions import db
    from app.points import boards

    quick = bool(getattr(args, "quick", False))
    n_entries = QUICK_ENTRIES if quick else ENTRIES
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name, url in _databases(tmp):
            app = create_app(
                {"DATABASE_URL": url, "SECRET_KEY": "bench" * 8, "SHANLIAN_ENV": "testing"}
            )
            with app.app_context():
                assert db.engine is not None
                migrate.upgrade(db.engine)
                _fill(db.session, n_entries, random.Random(7))
                statements = 0

                def count(*_a: Any) -> None:
                    nonlocal statements
                    statements += 1

                event.listen(db.engine, "before_cursor_execute", count)
                for board in boards.Board:
                    for period in ("month", "year", "all"):
                        for area in (None, "440100"):
                            timings = []
                            statements = 0
                            for _ in range(REPEATS):
                                start = time.perf_counter()
                                standings = boards.leaderboard(db.session, board, period, area)
                                timings.append((time.perf_counter() - start) * 1000)
                            timings.sort()
                            results.append(
                                {
                                    "bench": "leaderboard",
                                    "engine": engine_name,
                                    "entries": n_entries,
                                    "board": f"{board.value}/{period}/{area or 'province'}",
                                    "rows": len(standings),
                                    "queries": statements // REPEATS,
                                    "p50_ms": round(statistics.median(timings), 2),
                                    "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
                                }
                            )
                event.remove(db.engine, "before_cursor_execute", count)
                db.remove()
                db.engine.dispose()
    return results


if __name__ == "__main__":  # python -m bench.leaderboard_bench [--quick]
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    for row in run(parser.parse_args(sys.argv[1:])):
        print(row)
