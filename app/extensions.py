"""Extension objects, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.sql.elements import TextClause

SUPPORTED_LOCALES = ("zh", "en")


class Base(DeclarativeBase):
    """Declarative base of every model."""


class RoutingSession(Session):
    """A session that reads from the replica while ``info["replica"]`` holds its engine.

    Only a request marked read-only (``app.core.replica``) sets it. Any write (a flush, an
    INSERT/UPDATE/DELETE, a ``SELECT ... FOR UPDATE``, raw SQL) goes to the primary and
    turns the replica off for the rest of the session, so what it wrote is what it reads.
    """

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        replica = self.info.get("replica")
        if replica is not None:
            if not self._flushing and not _writes(clause):
                return replica
            self.info.pop("replica", None)
            self.info["wrote"] = True
        return super().get_bind(mapper, clause=clause, **kw)


def _writes(clause: Any) -> bool:
    if clause is None:
        return False
    if getattr(clause, "is_dml", False) or getattr(clause, "_for_update_arg", None) is not None:
        return True
    if isinstance(clause, TextClause):  # raw SQL: only a plain SELECT may go to the replica
        return not clause.text.lstrip().lower().startswith("select")
    return False


@event.listens_for(RoutingSession, "after_flush")
def _remember_write(session: Session, _context: Any) -> None:
    session.info["wrote"] = True  # read-your-own-writes: see app.core.replica


class Database:
    """The engines (a primary, and optionally a read replica) and the request-scoped session.

    A plain SQLAlchemy 2.x setup rather than Flask-SQLAlchemy so that tests can bind the
    session to an outer transaction (``join_transaction_mode="create_savepoint"``).
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.replica_engine: Engine | None = None
        self.session_factory = sessionmaker(class_=RoutingSession, expire_on_commit=False)
        self.registry: scoped_session[RoutingSession] = scoped_session(self.session_factory)
        # Typed as a plain Session: services take a Session and the registry proxies one.
        self.session: Session = cast(Session, self.registry)

    def remove(self) -> None:
        """End the current thread's session (teardown, tests)."""
        self.registry.remove()

    def init_app(self, app: Flask) -> None:
        self.configure(app.config["DATABASE_URL"], app.config.get("DATABASE_REPLICA_URL") or "")
        app.teardown_appcontext(self._remove_session)
        app.extensions["database"] = self

    def configure(self, url: str, replica_url: str = "") -> None:
        """(Re)create the engines: the primary, and the replica when ``replica_url`` is set."""
        self.engine = make_engine(url)
        self.replica_engine = make_engine(replica_url) if replica_url else None
        self.session_factory.configure(bind=self.engine)

    def _remove_session(self, _exc: BaseException | None) -> None:
        self.registry.remove()


def make_engine(url: str) -> Engine:
    """An engine configured the way the app needs on either database."""
    options: dict[str, Any] = {"hide_parameters": True}  # no household data in logs
    if url.startswith("sqlite"):
        # Flask serves requests on threads; each gets its own session anyway.
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        options["pool_pre_ping"] = True
        options["pool_size"] = 10
        options["max_overflow"] = 20
    engine = create_engine(url, **options)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # SQLite has one writer at a time. A deferred transaction that reads and then writes
    # fails at once (SQLITE_BUSY_SNAPSHOT) if another writer committed in between, so any
    # transaction that may write takes the write lock up front and waits its turn instead.
    # Page views (GET) stay deferred and never block each other.
    read_only = has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def run_after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction has committed.

    Side effects (emails, indexing, jobs) go through here so that a rollback never leaves
    a message sent for something that did not happen.
    """
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit_callbacks(session: Session) -> None:
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit_callbacks(session: Session) -> None:
    session.info.pop("after_commit", None)


def select_locale() -> str:
    """Chinese first: an explicit choice (cookie), else the browser's wish, else zh."""
    if not has_request_context():  # CLI commands and jobs speak Chinese
        return "zh"
    chosen = request.cookies.get("lang")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or "zh"


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
