"""``flask --app wsgi reports refresh [--enqueue]``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import db

reports_cli = AppGroup("reports", help="Report figures.")


@reports_cli.command("refresh")
@click.option("--enqueue", is_flag=True, help="Queue a recurring refresh on RQ (needs REDIS_URL).")
def refresh_command(enqueue: bool) -> None:
    """Rebuild the dashboard and transparency figures from the records."""
    from app.reports.rollups import refresh
    from app.reports.tasks import enqueue_refresh

    if enqueue:
        if not current_app.config["REDIS_URL"]:
            raise click.ClickException("REDIS_URL is not set")
        enqueue_refresh(current_app.config["REDIS_URL"])
        click.echo(
            "report refresh queued; it re-queues itself every "
            f"{current_app.config['REPORT_REFRESH_MINUTES']} minutes"
        )
        return
    record = refresh(db.session)
    db.session.commit()
    click.echo(f"report figures rebuilt in {record.seconds:.1f} s")


def register_cli(app: Flask) -> None:
    app.cli.add_command(reports_cli)
