"""Serving uploaded photos, only to the people ``can_view`` allows."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.errors import get_or_404
from app.extensions import db
from app.uploads import services
from app.uploads.models import Attachment

bp = Blueprint("uploads", __name__)


@bp.get("/attachments/<int:attachment_id>")
@login_required
def show_attachment(attachment_id: int) -> Response:
    attachment = get_or_404(db.session, Attachment, attachment_id)
    if not services.can_view(attachment, current_user):
        abort(403)
    response = services.serve(attachment)  # the bytes, or a short-lived signed URL
    if response is None:  # the row outlived its file (restored backup, manual cleanup)
        abort(404)
    # Household photos: not kept by the browser or any shared cache (nor the signed URL
    # of a redirect), never sniffed as something other than the image type we stored.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
