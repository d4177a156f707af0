"""The read replica: read-only pages read from it, writes and read-your-own-writes do not.

The "replica" is the same database reached as a read-only role (PostgreSQL: a role with
``default_transaction_read_only``; SQLite: the file opened ``mode=ro``), so a write sent
there would fail loudly, and every statement is counted per engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import migrate
from app.accounts.models import User
from app.claims.models import Claim
from app.core.replica import STICKY_COOKIE
from app.extensions import db, limiter, make_engine
from app.needs.models import NeedState
from tests.conftest import POSTGRES, Auth, IsolatedClient
from tests.databases import fresh_database
from tests.factories import UserFactory, need_in_state

WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP")


@dataclass
class Statements:
    primary: list[str] = field(default_factory=list)
    replica: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.primary.clear()
        self.replica.clear()


def _read_only_role(url: str) -> tuple[str, str]:
    """A login role that may only read, on the database of ``url``; its URL and name."""
    role = f"shanlian_replica_{os.getpid()}"
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"ALTER ROLE {role} SET default_transaction_read_only = on"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    owner.dispose()
    replica = make_url(url).set(username=role).render_as_string(hide_password=False)
    return replica, role


def _drop_role(url: str, role: str) -> None:
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"DROP OWNED BY {role}"))
        conn.execute(text(f"DROP ROLE {role}"))
    owner.dispose()


@pytest.fixture(scope="module")
def databases(app, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A database of the module's own (a replica only sees what was committed, so not the
    rolled-back test transaction), and the URL of its read-only "replica"."""
    tmp_path = tmp_path_factory.mktemp("replica")
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url = fresh_database(base, f"replica_{os.getpid()}", tmp_path)
    engine = make_engine(url)  # with the app's settings (SQLite: WAL, which readers share)
    migrate.upgrade(engine)
    engine.dispose()
    role = None
    if POSTGRES:
        replica_url, role = _read_only_role(url)
    else:
        replica_url = (
            f"sqlite:///file:{tmp_path / f'replica_{os.getpid()}.sqlite3'}?mode=ro&uri=true"
        )
    try:
        yield url, replica_url
    finally:
        if role:
            _drop_role(url, role)


@pytest.fixture
def replicated(app, databases) -> Iterator[Statements]:
    """The app on the module's database with its replica; statements counted per engine."""
    saved_engine = db.engine
    db.remove()
    db.configure(*databases)
    statements = Statements()
    engines: list[tuple[Engine, list[str]]] = [
        (db.engine, statements.primary),  # type: ignore[list-item]
        (db.replica_engine, statements.replica),  # type: ignore[list-item]
    ]
    for engine, seen in engines:
        event.listen(
            engine,
            "before_cursor_execute",
            lambda _c, _cur, sql, *_a, seen=seen: seen.append(sql.lstrip().upper()),
        )
    limiter.reset()
    app.test_client_class = IsolatedClient
    try:
        yield statements
    finally:
        db.remove()
        for engine, _ in engines:
            engine.dispose()
        db.engine = saved_engine
        db.replica_engine = None
        db.session_factory.configure(bind=saved_engine)


def committed_need():
    need = need_in_state(NeedState.PUBLISHED)
    db.session.commit()
    return need


def test_the_replica_refuses_writes(replicated):
    assert db.replica_engine is not None
    with db.replica_engine.connect() as conn, pytest.raises(DBAPIError):
        conn.execute(text("DELETE FROM users"))


def test_public_pages_read_from_the_replica_only(app, replicated):
    need = committed_need()
    client = app.test_client()
    replicated.clear()
    for path in ("/", "/needs", f"/needs/{need.id}", "/leaderboards", "/api/v1/needs"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert STICKY_COOKIE not in response.headers.get("Set-Cookie", "")
    assert replicated.replica, "the public pages read nothing from the replica"
    assert replicated.primary == []


def test_a_claim_then_the_claimers_own_pages_read_from_the_primary(app, replicated):
    need = committed_need()
    donor = UserFactory()
    db.session.commit()
    client = app.test_client()
    Auth(client).login(donor)
    client.delete_cookie(STICKY_COOKIE)  # signing in wrote; start from a quiet client
    replicated.clear()
    assert client.get(f"/needs/{need.id}").status_code == 200
    assert replicated.replica and replicated.primary == []  # before: the replica answers

    replicated.clear()
    response = client.post(f"/needs/{need.id}/claim", data={"method": "handover"})
    assert response.status_code == 302
    assert STICKY_COOKIE in response.headers["Set-Cookie"]
    assert any(s.startswith("INSERT INTO CLAIMS") for s in replicated.primary)
    assert replicated.replica == []

    replicated.clear()
    claim = db.session.scalar(select(Claim).where(Claim.need_id == need.id))
    assert claim is not None
    own = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert claim.handover_code in own
    public = client.get(f"/needs/{need.id}")  # a replica page, but this client just wrote
    assert public.status_code == 200
    assert replicated.primary and replicated.replica == []


def test_no_write_ever_goes_to_the_replica(app, replicated):
    """Walk pages that read and pages that write; the replica sees only reads."""
    need = committed_need()
    donor = UserFactory()
    db.session.commit()
    client = app.test_client()
    Auth(client).login(donor)
    client.get("/needs")
    client.post(f"/needs/{need.id}/claim", data={"method": "handover"})
    client.delete_cookie(STICKY_COOKIE)
    client.get(f"/needs/{need.id}")
    client.get("/claims/mine")
    client.get("/api/v1/needs?q=x")
    assert replicated.replica
    assert not [s for s in replicated.replica if s.startswith(WRITES)]


def test_a_write_inside_a_replica_session_goes_to_the_primary(app, replicated):
    """A read-only view that writes after all (a bug, or a later change) does not fail on
    the replica: the flush goes to the primary, and so do the reads after it."""
    session = db.session
    session.info["replica"] = db.replica_engine
    session.scalar(select(User.id).limit(1))
    assert replicated.replica and replicated.primary == []
    replicated.clear()
    UserFactory()  # flushes
    session.scalar(select(User.id).limit(1))
    session.commit()
    assert any(s.startswith("INSERT INTO USERS") for s in replicated.primary)
    assert replicated.replica == []
    assert session.info.get("wrote") is True
