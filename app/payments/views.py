"""Giving money: Checkout, the Stripe webhook, success/cancel pages, receipts, history."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from app.errors import ValidationFailed, get_or_404
from app.extensions import csrf, db
from app.needs.models import Need
from app.payments import services
from app.payments.models import CashDonation

bp = Blueprint("payments", __name__)


@bp.post("/needs/<int:need_id>/give")
@login_required
def give(need_id: int) -> Response:
    need = get_or_404(db.session, Need, need_id)
    if not need.is_public:
        abort(404)
    raw = request.form.get("amount_yuan", "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ValidationFailed(
            _("Please correct the marked fields."),
            {"amount_yuan": [_("Enter an amount in whole yuan.")]},
        )
    donation = services.start_checkout(db.session, need, current_user, int(raw))
    return redirect(donation.checkout_url, code=303)  # type: ignore[attr-defined]


def _own(donation_id: int) -> CashDonation:
    donation = get_or_404(db.session, CashDonation, donation_id)
    if not services.can_view_receipt(donation, current_user):
        abort(403)
    return donation


@bp.get("/payments/<int:donation_id>/success")
@login_required
def success(donation_id: int) -> str:
    return render_template("payments/success.html", donation=_own(donation_id))


@bp.get("/payments/<int:donation_id>/cancelled")
@login_required
def cancelled(donation_id: int) -> str:
    return render_template("payments/cancelled.html", donation=_own(donation_id))


@bp.get("/payments/<int:donation_id>/receipt")
@login_required
def receipt(donation_id: int) -> str:
    return render_template(
        "payments/receipt.html",
        donation=_own(donation_id),
        printable=request.args.get("print") == "1",
    )


@bp.get("/me/giving")
@login_required
def giving() -> str:
    return render_template(
        "payments/giving.html", donations=services.giving_history(db.session, current_user)
    )


@bp.post("/webhooks/stripe")
@csrf.exempt
def stripe_webhook() -> tuple[Response, int]:
    """Stripe's events: verified by signature, applied once per event id."""
    event = services.verify_event(request.get_data(), request.headers.get("Stripe-Signature"))
    try:
        applied = services.handle_event(db.session, event)
        db.session.flush()
    except IntegrityError:
        # The same event arrived twice at once; the other delivery applies it.
        db.session.rollback()
        applied = False
    return jsonify({"received": True, "duplicate": not applied}), 200
