"""The notifications page: a person's own notifications, newest first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.notifications import services

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index() -> str:
    notifications = services.recent_for(db.session, current_user)
    return render_template(
        "notifications/list.html",
        notifications=notifications,
        unread=sum(1 for n in notifications if n.read_at is None),
        need_endpoint=services.need_endpoint(current_user),
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> Response:
    services.mark_read(db.session, current_user, notification_id)
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/read-all")
@login_required
def mark_all_read() -> Response:
    services.mark_all_read(db.session, current_user)
    return redirect(url_for("notifications.index"))


@bp.app_context_processor
def unread_notifications() -> dict[str, Any]:
    """``unread_notifications()`` in any template: the signed-in person's unread count.
    A function, so pages that do not show it run no query."""

    def count() -> int:
        if not current_user.is_authenticated:
            return 0
        return services.unread_count(db.session, current_user)

    return {"unread_notifications": count}
