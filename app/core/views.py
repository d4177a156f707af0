"""Home page, language switch and the health check."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app import search_index
from app.accounts.views import is_local_path
from app.core import health
from app.core.replica import replica_reads
from app.extensions import SUPPORTED_LOCALES, db
from app.needs import services as needs_services

bp = Blueprint("core", __name__)


@bp.get("/")
@replica_reads
def home() -> str:
    stats = needs_services.public_stats(db.session)
    recent = needs_services.list_public_needs(db.session, needs_services.NeedFilters(), 1, 6)
    return render_template("core/home.html", stats=stats, recent=recent.items)


@bp.get("/lang/<code>")
def set_language(code: str) -> BaseResponse:
    target = request.args.get("next") or url_for("core.home")
    if not is_local_path(target):
        target = url_for("core.home")  # never an open redirect
    response = redirect(target)
    if code in SUPPORTED_LOCALES:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness: 200 while this process answers; the body says how its dependencies look
    (a database that is down is a reason to stop sending traffic, see /readyz, not to
    restart the node)."""
    database = health.check_database(db.session)
    if database["status"] != "ok":
        return jsonify({"status": "unavailable", "database": "unreachable"}), 200
    # A search engine that is down degrades search (the database index answers); the
    # site stays up and says so.
    search = search_index.search_health(db.session)
    status = "ok" if search["status"] == "ok" else "degraded"
    return jsonify({"status": status, "database": "ok", "search": search}), 200


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness for the load balancer: 503 when this node cannot serve (its database is
    unreachable); degraded parts (Redis, search, outbox backlog, storage) are reported."""
    report, ready = health.readiness(db.session)
    return jsonify(report), 200 if ready else 503
