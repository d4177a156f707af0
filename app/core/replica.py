"""Sending read-only work to the read replica, and keeping read-your-own-writes.

A view marked ``@replica_reads`` (public search, lists, reports) reads from
``DATABASE_REPLICA_URL`` when one is set, on GET and HEAD only. Everything else, and every
write even inside a marked view (``RoutingSession``), goes to the primary. A client whose
request wrote something gets a short cookie that keeps its next requests on the primary
for ``REPLICA_STICKY_SECONDS``, so a claimer never sees a replica that has not caught up
with their own claim. (The cookie only ever moves reads to the primary: forging it gains
nothing.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

from app.extensions import db

STICKY_COOKIE = "shanlian_primary"
View = TypeVar("View", bound=Callable[..., Any])


def replica_reads(view: View) -> View:
    """Mark a view whose reads may come from the replica."""
    view.replica_reads = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    app.before_request(_route_reads)


def _route_reads() -> None:
    if db.replica_engine is None:
        return
    db.session.info.pop("wrote", None)  # only this request's writes count
    if request.method not in ("GET", "HEAD"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not getattr(view, "replica_reads", False):
        return
    if request.cookies.get(STICKY_COOKIE):  # this client wrote a moment ago
        return
    db.session.info["replica"] = db.replica_engine


def after_commit(response: Response) -> Response:
    """Called once the request's transaction committed: remember that this client wrote."""
    if db.replica_engine is not None and db.session.info.get("wrote"):
        seconds = int(current_app.config["REPLICA_STICKY_SECONDS"])
        response.set_cookie(STICKY_COOKIE, "1", max_age=seconds, httponly=True, samesite="Lax")
    return response
