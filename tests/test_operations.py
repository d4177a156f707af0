"""What operators and load balancers see: /healthz, /readyz, /metrics, JSON logs with a
request id."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask

from app import outbox
from app.claims.models import Claim
from app.core.logs import JSONFormatter, RequestIdFilter
from app.needs.models import NeedState
from tests.factories import UserFactory, need_in_state


def test_readyz_ok_on_the_embedded_setup(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json
    assert body["database"] == {"status": "ok"}
    assert body["redis"] == {"status": "off"}  # no REDIS_URL: nothing to check
    assert body["storage"]["backend"] == "local"
    assert body["outbox"]["due"] == 0
    assert body["status"] == "ok"


def test_readyz_reports_a_dead_redis_without_leaving_rotation(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["redis"]["status"] == "degraded"
    assert response.json["status"] == "degraded"


def test_readyz_reports_an_old_outbox_backlog(app, client, session, monkeypatch):
    message = outbox.enqueue(session, "email", {"to": 1})
    monkeypatch.setitem(app.config, "READY_OUTBOX_MAX_AGE_MINUTES", 15)
    assert client.get("/readyz").json["outbox"]["status"] == "ok"
    from datetime import timedelta

    from app.models_base import utcnow

    message = session.merge(message)
    message.created_at = utcnow() - timedelta(hours=1)
    message.next_attempt_at = utcnow() - timedelta(minutes=1)
    session.flush()
    report = client.get("/readyz").json["outbox"]
    assert report["status"] == "degraded" and report["due"] == 1
    assert report["oldest_due_seconds"] >= 3600


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first and second and first != second
    offered = client.get("/healthz", headers={"X-Request-ID": "lb-0123456789"})
    assert offered.headers["X-Request-ID"] == "lb-0123456789"
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" "level": "FAKE'})
    assert forged.headers["X-Request-ID"] != 'x" "level": "FAKE'  # not ours to trust


def test_log_lines_are_json_with_the_request_id(app: Flask, client, caplog):
    formatter, request_filter = JSONFormatter(), RequestIdFilter()
    with caplog.at_level(logging.INFO, logger="shanlian.access"):
        response = client.get("/needs?q=王秀英", headers={"X-Request-ID": "req-abcdef123"})
    records = [r for r in caplog.records if r.name == "shanlian.access"]
    assert records
    request_filter.filter(records[-1])
    line = json.loads(formatter.format(records[-1]))
    assert line["request_id"] == "req-abcdef123" == response.headers["X-Request-ID"]
    assert line["route"] == "/needs" and line["status"] == 200 and line["method"] == "GET"
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert "王秀英" not in json.dumps(line, ensure_ascii=False)  # no search words in logs


def test_json_formatter_keeps_exceptions_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=True
        )
        import sys

        record.exc_info = sys.exc_info()
    text = JSONFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed here" and "ValueError: boom" in line["exception"]


def test_metrics_expose_latency_outbox_backlog_and_claims(client, session):
    need_in_state(NeedState.CLAIMED)
    outbox.enqueue(session, "email", {"to": 1})
    UserFactory()
    client.get("/needs")
    client.get("/needs/999999")
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'shanlian_http_request_duration_seconds_count{method="GET",status="200",url_rule="/needs"}'
        in text
    )
    assert 'url_rule="/needs/<int:need_id>"' in text  # one series per page, not per need
    assert 'shanlian_outbox_messages{state="due",topic="email"} 1.0' in text
    assert 'shanlian_outbox_messages{state="pending",topic="email"} 1.0' in text
    claims = session.query(Claim).count()
    assert f'shanlian_claims{{status="active"}} {float(claims)}' in text
    assert "shanlian_search_pending_updates" in text
    assert "shanlian_http_request_exceptions_total" in text or "shanlian_http_request_total" in text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_need_no_sign_in_and_never_500(client, path):
    assert client.get(path).status_code == 200
