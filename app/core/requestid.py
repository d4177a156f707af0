"""One id per request: taken from a trusted proxy's ``X-Request-ID`` when it looks like one,
else made here; sent back in ``X-Request-ID`` and written on every log line of the request."""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, has_request_context, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """This request's id (``""`` outside a request)."""
    if not has_request_context():
        return ""
    rid = g.get("request_id")
    if rid is None:
        offered = request.headers.get("X-Request-ID", "")
        rid = offered if _REQUEST_ID.match(offered) else secrets.token_hex(8)
        g.request_id = rid
    return str(rid)


def init_app(app: Flask) -> None:
    @app.after_request
    def send_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = request_id()
        return response
