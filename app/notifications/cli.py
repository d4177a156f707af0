"""Command line: ``flask --app wsgi outbox deliver`` and ``flask --app wsgi worker``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.notifications import services

outbox_cli = AppGroup("outbox", help="The outbox of emails waiting to be sent.")


@outbox_cli.command("deliver")
@click.option("--limit", default=50, show_default=True, help="Emails per batch.")
def outbox_deliver(limit: int) -> None:
    """Send every due email now (also a safety net to run from cron)."""
    if not current_app.config.get("MAIL_SERVER"):
        click.echo("MAIL_SERVER is not set; emails wait in the outbox")
    sent = services.deliver_all_due(limit)
    click.echo(f"{sent} email(s) sent")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker (with its scheduler, for retries) on REDIS_URL."""
    redis_url = current_app.config.get("REDIS_URL")
    if not redis_url:
        raise click.ClickException(
            "REDIS_URL is not set. Without Redis, emails are sent by a thread after each "
            "request; set REDIS_URL=redis://HOST:6379/0 to run jobs in a worker."
        )
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(redis_url)
    queue = Queue(services.RQ_QUEUE, connection=connection)
    # SimpleWorker runs jobs in this process, inside the app context the flask command
    # pushed; a forking worker would share the database pool's sockets with its children.
    SimpleWorker([queue], connection=connection).work(burst=burst, with_scheduler=True)


def register_cli(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
    app.cli.add_command(worker)
