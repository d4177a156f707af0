"""Logging: one JSON object per line (``LOG_FORMAT=json``, the production default) or plain
text, each line carrying the request id; and one access line per request.

Access lines name the method, the URL rule (``/needs/<int:need_id>``, never the query
string, which may hold what someone searched for), the status and the time taken. SQL
parameters are never logged (``hide_parameters`` on the engines).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

from app.core.requestid import request_id

_OURS = "_shanlian_handler"
# Attributes every LogRecord has; anything else was passed in ``extra=`` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "")
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if (
                key not in _STANDARD | {"request_id"}
                and key not in entry
                and not key.startswith("_")
            ):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id()
        return True


def configure_logging(app: Flask) -> None:
    """Install one handler on the root logger (replacing the one a previous app installed)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _OURS, True)
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    # Our own loggers at LOG_LEVEL; libraries only from WARNING up (some log addresses and
    # recipients at INFO).
    level = logging.getLevelName(str(app.config["LOG_LEVEL"]).upper())
    root.setLevel(max(level, logging.WARNING) if isinstance(level, int) else logging.WARNING)
    for name in ("app", "shanlian", "matching", "search"):
        logging.getLogger(name).setLevel(level)
    app.logger.handlers.clear()  # Flask's own handler would print every line twice
    app.logger.propagate = True
    _log_requests(app)


def _log_requests(app: Flask) -> None:
    access = logging.getLogger("shanlian.access")

    @app.before_request
    def start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        if started is None or request.path in ("/healthz", "/readyz", "/metrics"):
            return response  # probes every few seconds would drown the log
        access.info(
            "%s %s %s",
            request.method,
            request.url_rule.rule if request.url_rule else "<no route>",
            response.status_code,
            extra={
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else "",
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response
