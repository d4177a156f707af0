"""Two web nodes behind one PostgreSQL and one Redis, as behind a load balancer.

Each node is a separate ``flask run`` process with the same ``SECRET_KEY`` and nothing of
its own on disk that the other would need: a user signs in on one and carries on on the
other, and the sign-in rate limit counts attempts made on both (it lives in Redis).
Runs in the PostgreSQL pass of ``make test``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app import migrate
from app.accounts.models import Role, User
from app.accounts.services import hash_password
from tests.conftest import POSTGRES
from tests.databases import fresh_database
from tests.services import Node, RedisServer, start_node, start_redis

pytestmark = [
    pytest.mark.drill,
    pytest.mark.skipif(not POSTGRES, reason="runs in the PostgreSQL pass (TEST_DATABASE_URL)"),
]

PASSWORD = "two-nodes-password-1"
LIMIT = 6


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    if server is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(app, redis_server, tmp_path_factory) -> Iterator[tuple[Node, Node]]:
    folder = tmp_path_factory.mktemp("two-nodes")
    url = fresh_database(os.environ["TEST_DATABASE_URL"], f"nodes_{os.getpid()}", folder)
    engine = create_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        session.add(
            User(
                email="walker@test.example",
                display_name="两地用户",
                role=Role.DONOR,
                password_hash=hash_password(PASSWORD),
            )
        )
        session.commit()
    engine.dispose()
    env = {
        # Development only because the test speaks plain http (production cookies are
        # Secure); the secret key and everything shared come from the environment as there.
        "SHANLIAN_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "two-nodes-secret-key-0123456789abcdef-xyz",
        "LOGIN_RATE_LIMIT": f"{LIMIT} per minute",
        "UPLOAD_DIR": str(folder / "unused-uploads"),
        "LOG_FORMAT": "json",
    }
    nodes = [start_node(env, folder, name) for name in ("node-a", "node-b")]
    try:
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()


def token_in(page: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def csrf_token(browser: requests.Session, url: str) -> str:
    return token_in(browser.get(url + "/login", timeout=10).text)


def sign_in(browser: requests.Session, node: Node, password: str) -> requests.Response:
    return browser.post(
        node.url + "/login",
        data={
            "email": "walker@test.example",
            "password": password,
            "csrf_token": csrf_token(browser, node.url),
        },
        allow_redirects=False,
        timeout=10,
    )


def test_sign_in_on_one_node_and_carry_on_on_the_other(cluster):
    node_a, node_b = cluster
    browser = requests.Session()
    signed_in = sign_in(browser, node_a, PASSWORD)
    assert signed_in.status_code == 302, signed_in.text[:300]

    page = browser.get(node_b.url + "/me", allow_redirects=False, timeout=10)
    assert page.status_code == 200  # not sent to the login page
    assert "两地用户" in page.text

    # A form made on node B is accepted by node A (CSRF token and session alike).
    signed_out = browser.post(
        node_a.url + "/logout",
        data={"csrf_token": token_in(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_out.status_code == 302
    assert browser.get(node_b.url + "/me", allow_redirects=False, timeout=10).status_code == 302

    # Both nodes log JSON lines that carry the request id they answered with.
    rid = page.headers["X-Request-ID"]
    lines = [json.loads(line) for line in node_b.log_lines() if line.startswith("{")]
    assert any(line.get("request_id") == rid and line.get("route") == "/me" for line in lines)


def test_the_sign_in_limit_is_shared_by_both_nodes(cluster, redis_server):
    from redis import Redis

    Redis.from_url(redis_server.url).flushall()  # the first test's sign-in counted too
    node_a, node_b = cluster
    browser = requests.Session()
    answers = []
    for attempt in range(LIMIT + 2):
        node = (node_a, node_b)[attempt % 2]
        answers.append(sign_in(browser, node, "wrong password").status_code)
    # Each node alone would allow LIMIT attempts; together they allow LIMIT.
    assert answers[:LIMIT] == [400] * LIMIT
    assert answers[LIMIT:] == [429, 429]
    # ... and the right password is refused as well until the minute is over.
    assert sign_in(browser, node_a, PASSWORD).status_code == 429
