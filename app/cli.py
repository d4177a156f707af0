"""Command line: ``flask --app wsgi db upgrade``, ``flask --app wsgi seed-demo``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app import migrate
from app.extensions import db

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the schema up to date."""
    assert db.engine is not None
    migrate.upgrade(db.engine, revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION."""
    assert db.engine is not None
    migrate.downgrade(db.engine, revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (developers)."""
    assert db.engine is not None
    migrate.make_revision(db.engine, message)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when accounts already exist.")
@click.option("--seed", default=2023, show_default=True, help="Random seed (same seed, same demo).")
def seed_demo(if_empty: bool, seed: int) -> None:
    """Fill the database with a realistic demo and print the demo logins."""
    from app.seed import DEMO_PASSWORD, seed_demo_data

    summary = seed_demo_data(db.session, seed=seed, if_empty=if_empty)
    db.session.commit()
    if summary is None:
        click.echo("demo data already present; nothing changed")
    else:
        click.echo(summary)
    click.echo(f"demo password for every demo account: {DEMO_PASSWORD}")


@click.command("sweep")
@click.option("--enqueue", is_flag=True, help="Queue a recurring sweep on RQ (needs REDIS_URL).")
def sweep_command(enqueue: bool) -> None:
    """Lapse overdue claims, expire stale needs, turn traffic lights, notify."""
    from flask import current_app

    from app.supervision.sweep import sweep
    from app.supervision.tasks import enqueue_sweep

    if enqueue:
        if not current_app.config["REDIS_URL"]:
            raise click.ClickException("REDIS_URL is not set")
        enqueue_sweep(current_app.config["REDIS_URL"])
        click.echo(
            "sweep queued; it re-queues itself every "
            f"{current_app.config['SWEEP_INTERVAL_MINUTES']} minutes"
        )
        return
    report = sweep(db.session)
    db.session.commit()
    click.echo(str(report))


@click.command("expire-points")
@click.option("--as-of", default=None, help="Date of the run (YYYY-MM-DD); default today.")
def expire_points_command(as_of: str | None) -> None:
    """Lapse points older than POINTS_EXPIRE_MONTHS (run at year end)."""
    from datetime import date

    from app.models_base import local_today
    from app.points.services import expire_points

    day = date.fromisoformat(as_of) if as_of else local_today()
    owners = expire_points(db.session, day)
    db.session.commit()
    click.echo(f"points lapsed for {owners} owners")


@click.command("privacy-scan")
def privacy_scan_command() -> None:
    """Rescan the public text of every public need; list hits by need id (never the text).

    Pull a need back from its desk page (“Pull back for privacy review”)."""
    from app.needs.services import privacy_scan

    hits = privacy_scan(db.session)
    needs = sorted({hit.need_id for hit in hits})
    for need_id in needs:
        mine = [hit for hit in hits if hit.need_id == need_id]
        sure = any(hit.certain for hit in mine)
        parts = ", ".join(
            f"{hit.field}:{hit.kind.value}{'' if hit.certain else '?'}" for hit in mine
        )
        click.echo(
            f"need {need_id} [{mine[0].state.value}] {'REFUSE' if sure else 'check'}: {parts}"
            f"  /work/needs/{need_id}"
        )
    certain_needs = len({hit.need_id for hit in hits if hit.certain})
    click.echo(
        f"{len(needs)} public needs with findings ({certain_needs} certain, "
        f"{len(needs) - certain_needs} to check)."
    )


def register_cli(app: Flask) -> None:
    from app.notifications.cli import register_cli as register_notification_cli
    from app.reports.cli import register_cli as register_reports_cli
    from app.search_index.cli import register_cli as register_search_cli

    register_notification_cli(app)
    register_search_cli(app)
    register_reports_cli(app)
    app.cli.add_command(db_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(sweep_command)
    app.cli.add_command(expire_points_command)
    app.cli.add_command(privacy_scan_command)
