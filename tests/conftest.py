"""Test fixtures: one app per run, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` points
there (``make test`` does both). The schema is built by the Alembic migrations, so every
run also tests them.
"""

from __future__ import annotations

import asyncio
import contextvars
import email
import email.policy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app import create_app, migrate
from app.extensions import db, limiter
from tests.databases import drop_created_databases, fresh_database

TEST_PASSWORD = "correct-horse-42"
POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")


def test_settings(database_url: str) -> dict[str, object]:
    return {
        "SHANLIAN_ENV": "testing",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        "PASSWORD_HASH_TIME_COST": 1,
        "WTF_CSRF_ENABLED": False,
        "LOGIN_RATE_LIMIT": "1000 per minute",
    }


@pytest.fixture(scope="session", autouse=True)
def _drop_created_databases() -> Iterator[None]:
    """PostgreSQL databases made for this run are dropped when it ends (set up first, so
    torn down last, after the live server has stopped)."""
    yield
    drop_created_databases()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    return fresh_database(base, f"suite_{os.getpid()}", tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(test_settings(database_url))
    assert db.engine is not None
    migrate.upgrade(db.engine)
    with app.app_context():
        yield app
    db.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[object]:
    """The app's scoped session, bound to a transaction that is rolled back after the test.
    Commits inside the app become savepoints."""
    assert db.engine is not None
    connection = db.engine.connect()
    transaction = connection.begin()
    db.remove()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    limiter.reset()
    try:
        yield db.session
    finally:
        db.remove()
        transaction.rollback()
        connection.close()
        db.session_factory.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


class IsolatedClient(FlaskClient):
    """Runs each request in a fresh context, as a server does: its own app context, ``g``
    and database session (the test's own objects are detached afterwards; re-read them
    with ``session.get``)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # What the test set up is committed (to its savepoint) before the request, as it
        # would be in life; otherwise a request that fails and rolls back would take the
        # test's own data with it.
        db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app: Flask, session: object) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


class Auth:
    """Sign in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, user_or_email: object, password: str = TEST_PASSWORD) -> None:
        email = getattr(user_or_email, "email", user_or_email)
        response = self.client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def logout(self) -> None:
        self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@dataclass
class QueryCounter:
    count: int = 0
    statements: list[str] | None = None


@pytest.fixture
def count_queries(app: Flask, session: object) -> object:
    """``with count_queries() as counter: ...`` counts SQL statements sent to the database."""

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter(statements=[])
        connection = db.session.connection()

        def before(conn: object, cursor: object, statement: str, *args: object) -> None:
            if statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
                return
            counter.count += 1
            assert counter.statements is not None
            counter.statements.append(statement)

        engine = connection.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[Any]:
    """The Stripe stand-in (tests/stripe_standin.py), for the whole run."""
    from tests.stripe_standin import start

    standin, server = start()
    try:
        yield standin
    finally:
        server.shutdown()


@pytest.fixture
def stripe_enabled(app: Flask, stripe_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app configured with Stripe keys, talking to the stand-in."""
    from tests.stripe_standin import SECRET_KEY, WEBHOOK_SECRET

    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", stripe_server.url)
    stripe_server.requests.clear()
    stripe_server.refunds.clear()
    # Ids repeat between rolled-back tests; so would idempotency keys built from them.
    stripe_server._by_key.clear()
    stripe_server.fail_refunds = False
    return stripe_server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, stripe_server: Any) -> Iterator[str]:
    """The app served over real HTTP by a separate process, on its own database, with the
    demo data. CSRF protection is on, as in production."""
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url = fresh_database(base, f"live_{os.getpid()}", tmp_path_factory.mktemp("live"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SHANLIAN_ENV": "development",
        "DATABASE_URL": url,
        "SECRET_KEY": "live-test-secret-key-0123456789abcdef",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "PASSWORD_HASH_MEMORY_KIB": "8192",
        "PASSWORD_HASH_TIME_COST": "1",
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("live-uploads")),
        "STRIPE_SECRET_KEY": "sk_test_standin",
        "STRIPE_WEBHOOK_SECRET": "whsec_test_standin_secret",
        "STRIPE_API_BASE": stripe_server.url,
        "SITE_URL": base_url,
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    root = Path(__file__).resolve().parent.parent
    for command in (["db", "upgrade"], ["seed-demo", "--seed", "7"]):
        subprocess.run([*flask, *command], env=env, cwd=root, check=True, capture_output=True)
    log = (tmp_path_factory.mktemp("live-log") / "server.log").open("w")
    server = subprocess.Popen(
        [*flask, "run", "--port", str(port), "--no-reload", "--with-threads"],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stripe_server.webhook_url = base_url + "/webhooks/stripe"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"live server did not start; see {log.name}") from None
            time.sleep(0.2)
    try:
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


# --- a real SMTP server ------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_body().get_content()  # type: ignore[union-attr]


@dataclass
class Inbox:
    """What the SMTP server accepted."""

    port: int
    messages: list[Received] = field(default_factory=list)
    delay: float = 0.0  # seconds the server takes to accept a message

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)  # type: ignore[attr-defined]
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def no_mail(app, monkeypatch):
    """No SMTP server configured: emails wait in the outbox."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")


@pytest.fixture
def smtp(app, session, monkeypatch):
    """A real SMTP server on a free local port; delivery runs right after each commit."""
    inbox = Inbox(port=_free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", inbox.port)
    monkeypatch.setitem(app.config, "MAIL_DELIVER_INLINE", True)
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    monkeypatch.setitem(app.config, "SITE_URL", "https://shanlian.example")
    try:
        yield inbox
    finally:
        controller.stop()
