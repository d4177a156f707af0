"""/api/v1/reports: the figures behind the dashboards and the public transparency page.

The routes join the API blueprint (and so its OpenAPI document) through ``@operation``.
The dashboards' charts fetch the summary with the signed-in session; other clients use a
bearer token like the rest of /api/v1. The public figures are open, small cells suppressed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from app.api.openapi import SECURED, operation
from app.api.views import _bearer_user, bp
from app.extensions import db
from app.reports import services
from app.reports.schemas import (
    PublicFiguresSchema,
    ReportQuerySchema,
    SummaryQuerySchema,
    SummarySchema,
)

F = TypeVar("F", bound=Callable[..., Any])


def session_or_token(view: F) -> F:
    """The signed-in user (the dashboards' charts) or a bearer token; 401 otherwise."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user if current_user.is_authenticated else _bearer_user()
        if user is None:
            response = jsonify({"message": _("A valid bearer token is required."), "errors": {}})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        g.api_user = user
        return view(*args, **kwargs)

    setattr(wrapped, SECURED, True)
    return wrapped  # type: ignore[return-value]


@bp.get("/reports/summary")
@session_or_token
@operation(
    "Dashboard figures of an area (staff)",
    description="Needs collected, published and resolved grouped by month, sub-area, kind, "
    "care category or person group; waits from publication to claim and confirmation; "
    "lights; help given; top organisations. Counts only, never a person.",
    query=SummaryQuerySchema,
    returns=SummarySchema,
    errors={403: "Not staff, or the area is outside the caller's own"},
)
def report_summary(args: dict[str, Any]) -> Response:
    area = services.resolve_area(g.api_user, args.get("area"))
    period, group_by = services.parse_query(args["period"], args["group_by"])
    return jsonify(SummarySchema().dump(services.summary(db.session, area, period, group_by)))


@bp.get("/reports/public")
@operation(
    "Public transparency figures",
    description="Wishes fulfilled, volunteer hours, money and goods by month, city and "
    "district; any cell with fewer than five households is null and marked suppressed.",
    query=ReportQuerySchema,
    returns=PublicFiguresSchema,
)
def report_public(args: dict[str, Any]) -> Response:
    period = services.parse_period(args["period"])
    return jsonify(PublicFiguresSchema().dump(services.public_summary(db.session, period)))
