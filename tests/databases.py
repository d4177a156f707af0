"""Databases made for a test run: one registry, however the tests import it.

(pytest imports ``conftest`` under its own name; anything that must exist once lives here.)
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

CREATED: list[tuple[str, str]] = []  # (server URL, database) to drop at the end


def fresh_database(base_url: str, name: str, tmp_dir: Path) -> str:
    """An empty database for this run: a new SQLite file, or a recreated PostgreSQL database."""
    if not base_url.startswith("postgres"):
        return f"sqlite:///{tmp_dir / (name + '.sqlite3')}"
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    database = f"{url.database}_{name}"
    assert re.fullmatch(r"\w+", database)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    CREATED.append((url.set(database="postgres").render_as_string(hide_password=False), database))
    return url.set(database=database).render_as_string(hide_password=False)


def drop_created_databases() -> None:
    while CREATED:
        server, database = CREATED.pop()
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
