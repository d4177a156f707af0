"""``flask --app wsgi search reindex | deliver | status``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db
from app.search_index import models  # noqa: F401  (the outbox table is part of the schema)
from app.search_index.documents import count_public
from app.search_index.engines import database_index, engines
from app.search_index.sync import (
    deliver_outbox,
    pending_updates,
    reindex_database,
    reindex_elasticsearch,
)
from search import SearchUnavailable

search_cli = AppGroup("search", help="The search index of public needs.")


@search_cli.command("reindex")
@click.option(
    "--engine",
    type=click.Choice(["all", "database", "elasticsearch"]),
    default="all",
    show_default=True,
    help="Which index to rebuild (all: the database one, and Elasticsearch if configured).",
)
def reindex_command(engine: str) -> None:
    """Rebuild the search index from the public needs (with a progress bar)."""
    session = db.session
    total = count_public(session)
    if engine in ("all", "database"):
        name = database_index(session).name
        with click.progressbar(length=total, label=f"{name} index") as bar:
            indexed = reindex_database(session, bar.update)
        session.commit()
        click.echo(f"{indexed} public needs in the {name} index")
    if engine == "elasticsearch" and engines().elastic is None:
        raise click.ClickException("SEARCH_BACKEND is not elasticsearch; nothing to rebuild")
    if engine in ("all", "elasticsearch") and engines().elastic is not None:
        with click.progressbar(length=total, label="Elasticsearch index") as bar:
            try:
                indexed = reindex_elasticsearch(session, bar.update)
            except SearchUnavailable as exc:
                raise click.ClickException(
                    f"{exc}. The previous Elasticsearch index stays in service; run this "
                    "again once the cluster answers."
                ) from None
        click.echo(f"{indexed} public needs in the Elasticsearch index (alias swapped)")


@search_cli.command("deliver")
def deliver_command() -> None:
    """Send the changes waiting in the outbox to Elasticsearch now (also from cron)."""
    if engines().elastic is None:
        click.echo("SEARCH_BACKEND is not elasticsearch; the database index needs no delivery")
        return
    delivered = deliver_outbox(force=True)
    waiting = pending_updates(db.session)
    click.echo(f"{delivered} update(s) delivered, {waiting} waiting")
    if waiting:
        raise click.ClickException("Elasticsearch did not take every update; they wait")


@search_cli.command("status")
def status_command() -> None:
    """How many needs each index holds, against the public needs in the database."""
    session = db.session
    click.echo(f"public needs in the database: {count_public(session)}")
    index = database_index(session)
    click.echo(f"{index.name} index: {len(index.indexed())}")
    elastic = engines().elastic
    if elastic is not None:
        try:
            click.echo(f"elasticsearch index: {len(elastic.indexed())}")
        except SearchUnavailable as exc:
            click.echo(f"elasticsearch index: unavailable ({exc})")
        click.echo(f"updates waiting in the outbox: {pending_updates(session)}")


def register_cli(app: Flask) -> None:
    """Add the search commands to the app's CLI."""
    app.cli.add_command(search_cli)
