"""Prometheus metrics at ``/metrics``, through prometheus-flask-exporter.

Per request (by the exporter): latency histograms and counts by method, URL rule and
status, and exceptions. Read from the database at each scrape, so every node tells the
same truth: the outbox backlog (due, waiting, dead), the search index's pending updates,
and claims by status. Each app has its own registry (tests build several apps in one
process). Request metrics are per process: run one gunicorn process (with threads) per
container, or scrape each process.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_flask_exporter import PrometheusMetrics
from sqlalchemy import func, select

from app.extensions import db
from app.models_base import utcnow


def init_app(app: Flask) -> None:
    registry = CollectorRegistry()
    exporter = PrometheusMetrics(
        app,
        path=None,  # served below, after the gauges are read
        registry=registry,
        group_by="url_rule",  # /needs/<int:need_id>, not one series per need
        excluded_paths=["^/metrics$", "^/healthz$", "^/readyz$", "^/static/"],
        defaults_prefix="shanlian",
    )
    gauges = {
        "outbox": Gauge(
            "shanlian_outbox_messages",
            "Outbox messages by topic and state (due: pending and due now).",
            ["topic", "state"],
            registry=registry,
        ),
        "search": Gauge(
            "shanlian_search_pending_updates",
            "Needs whose search document still waits for Elasticsearch.",
            registry=registry,
        ),
        "claims": Gauge(
            "shanlian_claims",
            "Claims by status.",
            ["status"],
            registry=registry,
        ),
    }
    app.extensions["metrics"] = (exporter, registry, gauges)

    @app.get("/metrics")
    @exporter.do_not_track()
    def metrics() -> Response:
        _read_gauges(gauges)
        db.session.rollback()  # read only; end the transaction before answering
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _read_gauges(gauges: dict[str, Any]) -> None:
    from app.claims.models import Claim
    from app.core.models import OutboxMessage
    from app.search_index.sync import pending_updates

    session = db.session
    now = utcnow()
    gauges["outbox"].clear()
    rows = session.execute(
        select(OutboxMessage.topic, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.topic, OutboxMessage.status
        )
    )
    for topic, status, count in rows:
        if status != "sent":
            gauges["outbox"].labels(topic, status).set(count)
    due = session.execute(
        select(OutboxMessage.topic, func.count())
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .group_by(OutboxMessage.topic)
    )
    for topic, count in due:
        gauges["outbox"].labels(topic, "due").set(count)
    gauges["search"].set(pending_updates(session))
    gauges["claims"].clear()
    claims = session.execute(select(Claim.status, func.count()).group_by(Claim.status))
    for claim_status, count in claims:
        gauges["claims"].labels(getattr(claim_status, "value", str(claim_status))).set(count)
