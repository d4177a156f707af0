"""The verifier's review queue and the repair cost exception (一事一议)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import Role
from app.errors import get_or_404
from app.extensions import db
from app.needs import services
from app.needs.models import Need
from app.permissions import role_required
from app.supervision import services as supervision

bp = Blueprint("supervision", __name__, url_prefix="/review")


@bp.get("/")
@role_required(Role.VERIFIER)
def queue() -> str:
    return render_template(
        "supervision/queue.html", needs=services.review_queue(db.session, current_user)
    )


@bp.post("/<int:need_id>/cost-exception")
@role_required(Role.VERIFIER)
def approve_exception(need_id: int) -> Response:
    need = get_or_404(db.session, Need, need_id)
    if not need.can_view_private(current_user):
        abort(403)
    services.approve_cost_exception(db.session, need, current_user, request.form.get("note", ""))
    flash(_("Exception approved. The repair can now be published."), "info")
    return redirect(url_for("work.need", need_id=need.id))


@bp.get("/inspections")
@role_required(Role.VERIFIER)
def inspections() -> str:
    from app.claims.inspections import inspections_due

    return render_template(
        "supervision/inspections.html", claims=inspections_due(db.session, current_user)
    )


@bp.get("/lights")
@role_required(Role.VERIFIER, Role.CASEWORKER)
def lights() -> str:
    """Counts per district and light, and the red list, for the supervisor's area."""
    board = supervision.light_board(db.session, current_user)
    return render_template("supervision/lights.html", board=board)
