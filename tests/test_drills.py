"""Fault drills on real services started by the test itself.

* PostgreSQL restarted while 50 clients claim: every answer is 201 or a 503 the client
  retries; the pool recovers by itself; nothing committed is lost, nothing half-done.
* Redis stopped mid-load: sign-in and pages keep working (rate limits fall back to each
  node's memory), /readyz says so.
* A restore drill: ``pg_dump`` of a live database restored into a fresh one, and the app
  started on it with every need and claim intact.

The drills start their own PostgreSQL (``initdb`` in a temporary folder, another port) and
their own redis-server; the shared servers are never stopped. They run in the PostgreSQL
pass of ``make test`` (about a minute together).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import POSTGRES
from tests.services import (
    ROOT,
    PostgresServer,
    flask_command,
    pg_binary,
    start_node,
    start_postgres,
    start_redis,
)

pytestmark = [
    pytest.mark.drill,
    pytest.mark.skipif(not POSTGRES, reason="runs in the PostgreSQL pass (TEST_DATABASE_URL)"),
]

CLIENTS = 50

# Run inside the app (``python -c``) to make what the drill needs: published needs, donors,
# and an API token for each donor, printed as JSON.
SEED = """
import json, sys
from app import create_app
from app.extensions import db
from app.accounts.services import issue_token
from app.needs.models import NeedState
from tests.factories import UserFactory, need_in_state

app = create_app()
with app.app_context():
    pairs = []
    for _ in range(int(sys.argv[1])):
        need = need_in_state(NeedState.PUBLISHED)
        donor = UserFactory()
        pairs.append((need.id, donor.id))
    db.session.commit()
    from app.accounts.models import User
    out = [
        {"need": n, "user": u, "token": issue_token(db.session.get(User, u))} for n, u in pairs
    ]
    print(json.dumps(out))
"""


TEMPLATE = "drill_template"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of the drills' own, with the schema migrated once into a template."""
    server = start_postgres()
    if server is None:
        pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found")
    try:
        server.psql(f'CREATE DATABASE "{TEMPLATE}"')
        flask_command(node_env(server, TEMPLATE), "db", "upgrade")
        yield server
    finally:
        server.destroy()


def node_env(server: PostgresServer, database: str, **extra: str) -> dict[str, str]:
    return {
        "SHANLIAN_ENV": "development",
        "DATABASE_URL": server.url(database),
        "SECRET_KEY": "drill-secret-key-0123456789abcdef-0123456789",
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        "PASSWORD_HASH_TIME_COST": "1",
        "LOG_FORMAT": "json",
        "REDIS_URL": "",
        **extra,
    }


def prepared_database(server: PostgresServer, name: str, env: dict[str, str], needs: int):
    server.psql(f'DROP DATABASE IF EXISTS "{name}"')
    server.psql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    seeded = subprocess.run(
        [sys.executable, "-c", SEED, str(needs)],
        env={**os.environ, **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(seeded.stdout.strip().splitlines()[-1])


# --- PostgreSQL restarted while 50 clients claim -----------------------------------------


def test_postgres_restart_while_fifty_clients_claim(own_postgres, tmp_path):
    env = node_env(own_postgres, "drill_claims")
    pairs = prepared_database(own_postgres, "drill_claims", env, CLIENTS)
    node = start_node(env, tmp_path, "claims-node")
    answers: dict[int, list[int]] = {}
    retry_after: list[str] = []
    go = threading.Barrier(CLIENTS + 1)

    def claimer(index: int) -> None:
        pair = pairs[index]
        headers = {"Authorization": f"Bearer {pair['token']}"}
        seen: list[int] = []
        answers[index] = seen
        go.wait()
        time.sleep(index * 0.05)  # claims spread over 2.5 s: before, during, after
        for _ in range(200):
            try:
                response = requests.post(
                    f"{node.url}/api/v1/needs/{pair['need']}/claims",
                    json={},
                    headers=headers,
                    timeout=30,
                )
            except requests.ConnectionError:  # the node itself must never go away
                seen.append(-1)
                return
            seen.append(response.status_code)
            if response.status_code == 503:
                retry_after.append(response.headers.get("Retry-After", ""))
                assert response.json()["message"]
                time.sleep(0.2)
                continue
            return

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(claimer, i) for i in range(CLIENTS)]
            go.wait()
            time.sleep(0.8)
            own_postgres.stop("fast")  # connections cut mid-request
            time.sleep(1.0)  # and a second with no database at all
            own_postgres.start()
            for future in futures:
                future.result()

        statuses = Counter(code for seen in answers.values() for code in seen)
        assert set(statuses) <= {201, 503, 409}, statuses
        assert statuses[503] > 0, "the restart was not felt: the drill did not drill"
        assert set(retry_after) == {"2"}
        finals = {i: seen[-1] for i, seen in answers.items()}
        # A 409 is only acceptable as the answer to a retry whose first try committed
        # just as the connection died: the claim must then be the client's own (below).
        assert all(code in (201, 409) for code in finals.values()), finals
        assert all(seen[0] != 409 for seen in answers.values())

        # The pool recovered by itself: the same process answers ready again.
        assert node.process.poll() is None
        assert requests.get(node.url + "/readyz", timeout=10).status_code == 200

        # Nothing committed is lost, nothing is half-done: each need is claimed once, by
        # the client that was told so, and each claimed need has exactly one claim.
        rows = own_postgres.psql(
            "SELECT c.need_id, c.claimant_id, n.state FROM claims c JOIN needs n "
            "ON n.id = c.need_id ORDER BY c.need_id",
            database="drill_claims",
        ).splitlines()
        claims = {int(r.split("|")[0]): (int(r.split("|")[1]), r.split("|")[2]) for r in rows}
        assert len(rows) == CLIENTS == len(claims)
        for pair in pairs:
            assert claims[pair["need"]][0] == pair["user"]
            assert claims[pair["need"]][1] == "claimed"
        claimed_needs = own_postgres.psql(
            "SELECT count(*) FROM needs WHERE state = 'claimed'", database="drill_claims"
        )
        assert int(claimed_needs) == CLIENTS
        assert not [line for line in node.log_lines() if "unhandled error" in line]
    finally:
        node.stop()


# --- Redis stopped mid-load ---------------------------------------------------------------


def test_redis_stopped_mid_load_sign_in_and_pages_keep_working(own_postgres, tmp_path):
    redis = start_redis()
    if redis is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    limit = 5
    env = node_env(
        own_postgres, "drill_redis", REDIS_URL=redis.url, LOGIN_RATE_LIMIT=f"{limit} per minute"
    )
    pairs = prepared_database(own_postgres, "drill_redis", env, 3)
    node = start_node(env, tmp_path, "redis-node")
    statuses: list[int] = []
    stop = threading.Event()

    def pages(pair: dict) -> None:  # the load: pages and API calls, signed in by token
        headers = {"Authorization": f"Bearer {pair['token']}"}
        while not stop.is_set():
            for path in ("/", "/needs", f"/api/v1/needs/{pair['need']}", "/api/v1/me"):
                statuses.append(
                    requests.get(node.url + path, headers=headers, timeout=60).status_code
                )

    def sign_in() -> int:  # a wrong password: counted by the sign-in limit
        return requests.post(
            node.url + "/api/v1/auth/token",
            json={"email": "nobody@test.example", "password": "wrong"},
            timeout=60,
        ).status_code

    try:
        assert requests.get(node.url + "/readyz", timeout=60).json()["redis"]["status"] == "ok"
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(pages, pair) for pair in pairs]
            assert [sign_in(), sign_in()] == [403, 403]  # counted in Redis
            redis.stop()
            served_before = len(statuses)
            # Sign-in keeps working, and keeps being limited: the count moves to this
            # node's memory (starting afresh) instead of failing or letting everyone in.
            during = [sign_in() for _ in range(limit + 1)]
            ready = requests.get(node.url + "/readyz", timeout=60)
            deadline = time.monotonic() + 60
            while len(statuses) == served_before and time.monotonic() < deadline:
                time.sleep(0.2)  # at least one page served while Redis is away
            served_during = len(statuses) - served_before
            redis.start()
            stop.set()
            for future in futures:
                future.result()
        assert during == [403] * limit + [429]
        assert ready.status_code == 200  # degraded, not out of rotation
        assert ready.json()["redis"]["status"] == "degraded"
        assert served_during > 0
        assert statuses and not [s for s in statuses if s != 200], Counter(statuses)
        assert requests.get(node.url + "/readyz", timeout=60).json()["redis"]["status"] == "ok"
        assert sign_in() in (403, 429)  # Redis back: answered, never a 5xx
        assert not [line for line in node.log_lines() if "unhandled error" in line]
    finally:
        stop.set()
        node.stop()
        redis.stop()


# --- backup and restore --------------------------------------------------------------------


def test_restore_drill_pg_dump_into_a_fresh_database(own_postgres, tmp_path):
    env = node_env(own_postgres, "drill_source")
    pairs = prepared_database(own_postgres, "drill_source", env, 4)
    node = start_node(env, tmp_path, "source-node")
    try:
        for pair in pairs[:2]:
            response = requests.post(
                f"{node.url}/api/v1/needs/{pair['need']}/claims",
                json={},
                headers={"Authorization": f"Bearer {pair['token']}"},
                timeout=30,
            )
            assert response.status_code == 201
    finally:
        node.stop()
    count_sql = (
        "SELECT (SELECT count(*) FROM needs) || ',' || (SELECT count(*) FROM claims) || ',' || "
        "(SELECT count(*) FROM households) || ',' || (SELECT string_agg(need_id::text || ':' "
        "|| claimant_id::text, ';' ORDER BY need_id) FROM claims)"
    )
    before = own_postgres.psql(count_sql, database="drill_source")

    # The backup, as the README says: pg_dump in custom format ...
    dump = tmp_path / "shanlian.dump"
    pg_dump, pg_restore = pg_binary("pg_dump"), pg_binary("pg_restore")
    assert pg_dump and pg_restore
    server = ["-h", "127.0.0.1", "-p", str(own_postgres.port), "-U", "postgres"]
    subprocess.run(
        [pg_dump, *server, "--format=custom", "--no-owner", "--file", str(dump), "drill_source"],
        check=True,
        timeout=120,
    )
    # ... restored into a fresh database by the script the README names ...
    own_postgres.psql('DROP DATABASE IF EXISTS "drill_restored"')
    own_postgres.psql('CREATE DATABASE "drill_restored"')
    subprocess.run(
        [str(ROOT / "scripts" / "restore-db.sh"), str(dump), own_postgres.url("drill_restored")],
        check=True,
        timeout=120,
        env={**os.environ, "PATH": f"{Path(pg_restore).parent}:{os.environ['PATH']}"},
    )
    assert own_postgres.psql(count_sql, database="drill_restored") == before

    # ... and the app starts on it, finds the schema current, and serves what was there.
    restored_env = node_env(own_postgres, "drill_restored")
    assert "head" in flask_command(restored_env, "db", "upgrade").stdout
    restored = start_node(restored_env, tmp_path, "restored-node")
    try:
        assert requests.get(restored.url + "/readyz", timeout=10).status_code == 200
        for pair in pairs[:2]:
            mine = requests.get(
                restored.url + "/api/v1/me/claims",
                headers={"Authorization": f"Bearer {pair['token']}"},
                timeout=10,
            ).json()["items"]
            assert [c["need_id"] for c in mine] == [pair["need"]]
        for pair in pairs[2:]:  # the unclaimed needs are still open to claims
            response = requests.post(
                f"{restored.url}/api/v1/needs/{pair['need']}/claims",
                json={},
                headers={"Authorization": f"Bearer {pair['token']}"},
                timeout=30,
            )
            assert response.status_code == 201
    finally:
        restored.stop()
