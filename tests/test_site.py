"""Site-wide behaviour: languages, health check, settings, migrations."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from app.config import ConfigError, Settings
from app.needs.models import NeedState
from tests.factories import need_in_state


def test_chinese_first_english_on_request(client, session):
    need_in_state(NeedState.PUBLISHED)
    zh = client.get("/needs").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh and "微心愿" in zh and "需求" in zh
    en = client.get("/needs", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in en and "Micro-wish" in en
    switch = client.get("/lang/en?next=/needs")
    assert switch.status_code == 302 and switch.headers["Location"] == "/needs"
    en_cookie = client.get("/needs").get_data(as_text=True)
    assert "Micro-wish" in en_cookie and "微心愿" not in en_cookie
    client.get("/lang/zh")
    assert "微心愿" in client.get("/needs").get_data(as_text=True)


def test_language_switch_is_not_an_open_redirect(client):
    response = client.get("/lang/en?next=//evil.example/")
    assert response.headers["Location"] == "/"


def test_form_errors_in_chinese(client, session):
    response = client.post("/register", data={"role": "donor"})
    assert response.status_code == 422
    assert "必填" in response.get_data(as_text=True) or "必须" in response.get_data(as_text=True)


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_healthz_reports_database_down_and_readyz_takes_the_node_out(client, monkeypatch):
    """Liveness stays 200 (restarting the node would not bring the database back);
    readiness answers 503 so the load balancer sends traffic elsewhere."""
    from app.extensions import db

    broken = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    monkeypatch.setattr(
        db.session, "execute", lambda *a, **k: broken.connect().exec_driver_sql("SELECT 1")
    )
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "unreachable"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["status"] == "unavailable"
    assert ready.json["database"]["status"] == "unavailable"


def test_settings_from_environment_with_coercion():
    settings = Settings.load(
        environ={
            "MAIL_PORT": "2525",
            "RATELIMIT_ENABLED": "no",
            "DATABASE_URL": "postgres://u@h/db",
        }
    )
    assert settings.MAIL_PORT == 2525 and settings.RATELIMIT_ENABLED is False
    assert settings.DATABASE_URL == "postgresql+psycopg://u@h/db"
    assert len(settings.SECRET_KEY) >= 32  # generated and kept in instance/


def test_override_beats_environment():
    settings = Settings.load(environ={"PAGE_SIZE": "5"}, override={"PAGE_SIZE": 7})
    assert settings.PAGE_SIZE == 7


@pytest.mark.parametrize(
    "environ",
    [
        {"SHANLIAN_ENV": "production", "DATABASE_URL": "sqlite://"},
        {"SHANLIAN_ENV": "production", "SECRET_KEY": "x" * 40},
        {"SHANLIAN_ENV": "production", "SECRET_KEY": "short", "DATABASE_URL": "sqlite://"},
        {"MAIL_PORT": "twenty-five"},
        {"SHANLIAN_ENV": "staging"},
        {"SEARCH_BACKEND": "elasticsearch"},
    ],
)
def test_bad_settings_fail_clearly(environ):
    with pytest.raises(ConfigError):
        Settings.load(environ=environ)


def test_production_settings_secure_cookies():
    settings = Settings.load(
        environ={"SHANLIAN_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite://"}
    )
    config = settings.flask_config()
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]


def test_migrations_match_the_models(app):
    """The schema the migrations build is the schema the models describe."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.extensions import db
    from app.models import Base
    from search import is_index_table

    # The search index's tables (FTS5, R*Tree, tsvector) belong to the engines, not the models.
    def include_name(name, type_, parent_names):
        return not (type_ == "table" and is_index_table(name))

    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migrations_downgrade_and_upgrade(tmp_path):
    from app import migrate

    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        tables = set(
            connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='table'"
            ).scalars()
        )
    assert {"users", "households", "needs", "need_events"} <= tables
    engine.dispose()


def test_seed_demo_covers_every_kind_state_and_city(session):
    from sqlalchemy import select

    from app.needs.models import Need, NeedKind
    from app.places import gazetteer
    from app.seed import seed_demo_data

    summary = seed_demo_data(session, seed=1)
    assert "demo ready" in summary
    pairs = set(session.execute(select(Need.kind, Need.state)).all())
    assert pairs == {(k, s) for k in NeedKind for s in NeedState}
    cities = {gazetteer.city_of(code).code for code in session.scalars(select(Need.district_code))}
    assert cities == {c.code for c in gazetteer.cities()}
    assert seed_demo_data(session, if_empty=True) is None
