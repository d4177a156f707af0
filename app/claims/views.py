"""Claiming, accepting, delivering, confirming, disputing, inspecting. Views stay thin:
parse, check who is asking, call a service, redirect."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import Role
from app.claims import inspections, services
from app.claims.forms import ClaimForm, DeliverForm
from app.claims.models import Claim, DeliveryMethod
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import follow_up_days
from app.needs.models import Need
from app.permissions import role_required
from app.shifts.models import ShiftSignup
from app.uploads import services as uploads

bp = Blueprint("claims", __name__)

CLAIMERS = (Role.DONOR, Role.COMPANY, Role.TEAM)


def _claim(claim_id: int) -> Claim:
    return get_or_404(db.session, Claim, claim_id)


def _note() -> str:
    return request.form.get("note", "").strip()


def _back_to_need(need: Need) -> Response:
    return redirect(url_for("work.need", need_id=need.id))


# --- claimers --------------------------------------------------------------------------


@bp.post("/needs/<int:need_id>/claim")
@role_required(*CLAIMERS)
def claim(need_id: int) -> Response:
    need = get_or_404(db.session, Need, need_id)
    if not need.is_public:
        abort(404)
    form = ClaimForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_("Please correct the marked fields."), form.errors)
    new_claim = services.claim_need(
        db.session,
        need,
        current_user,
        DeliveryMethod(form.method.data),
        plan=form.plan.data or "",
        plan_cost_yuan=form.plan_cost_yuan.data,
    )
    flash(
        _(
            "Thank you! You claimed this need. Your handover code is %(code)s.",
            code=new_claim.handover_code,
        ),
        "info",
    )
    return redirect(url_for("claims.detail", claim_id=new_claim.id))


@bp.get("/claims/mine")
@role_required(*CLAIMERS)
def mine() -> str:
    signups = db.session.query(ShiftSignup).filter(ShiftSignup.user_id == current_user.id).all()
    return render_template(
        "claims/mine.html", claims=services.claims_of(db.session, current_user), signups=signups
    )


@bp.get("/claims/<int:claim_id>")
@role_required(*CLAIMERS, Role.CASEWORKER, Role.VERIFIER)
def detail(claim_id: int, deliver_form: DeliverForm | None = None) -> str:
    claim = _claim(claim_id)
    need = claim.need
    own = services.is_own_claim(claim, current_user)
    if not (own or need.can_view_private(current_user)):
        abort(403)
    return render_template(
        "claims/detail.html",
        claim=claim,
        need=need,
        own=own,
        show_address=services.can_see_address(db.session, need, current_user) and own,
        deliver_form=deliver_form or DeliverForm(),
        photos=uploads.attachments_for(db.session, "claim", claim.id),
    )


@bp.post("/claims/<int:claim_id>/withdraw")
@role_required(*CLAIMERS)
def withdraw(claim_id: int) -> Response:
    claim = _claim(claim_id)
    services.withdraw_claim(db.session, claim, current_user, _note())
    flash(_("You withdrew your claim. The need is open to others again."), "info")
    return redirect(url_for("claims.mine"))


@bp.post("/claims/<int:claim_id>/deliver")
@role_required(*CLAIMERS, Role.CASEWORKER)  # caseworkers deliver what cash paid for
def deliver(claim_id: int) -> Response:
    claim = _claim(claim_id)
    form = DeliverForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_("Please correct the marked fields."), form.errors)
    services.mark_delivered(
        db.session,
        claim,
        current_user,
        form.note.data or "",
        request.files.getlist(form.photos.name),
    )
    flash(_("Marked delivered. The caseworker will confirm with the household."), "info")
    if current_user.has_role(Role.CASEWORKER):
        return _back_to_need(claim.need)
    return redirect(url_for("claims.detail", claim_id=claim.id))


# --- caseworkers -----------------------------------------------------------------------


@bp.post("/claims/<int:claim_id>/accept")
@role_required(Role.CASEWORKER)
def accept(claim_id: int) -> Response:
    claim = _claim(claim_id)
    services.accept_claim(db.session, claim, current_user)
    flash(_("Claim accepted."), "info")
    return _back_to_need(claim.need)


@bp.post("/claims/<int:claim_id>/release")
@role_required(Role.CASEWORKER)
def release(claim_id: int) -> Response:
    claim = _claim(claim_id)
    services.release_claim(db.session, claim, current_user, _note())
    flash(_("Claim released. The need is open again."), "info")
    return _back_to_need(claim.need)


@bp.post("/claims/<int:claim_id>/confirm")
@role_required(Role.CASEWORKER)
def confirm(claim_id: int) -> Response:
    claim = _claim(claim_id)
    days = follow_up_days()
    services.confirm_delivery(db.session, claim, current_user, days)
    flash(_("Fulfilment confirmed."), "info")
    return _back_to_need(claim.need)


@bp.post("/claims/<int:claim_id>/dispute")
@role_required(Role.CASEWORKER)
def dispute(claim_id: int) -> Response:
    claim = _claim(claim_id)
    services.dispute_delivery(db.session, claim, current_user, _note())
    flash(_("Delivery disputed; the claimer has been told."), "info")
    return _back_to_need(claim.need)


@bp.post("/claims/<int:claim_id>/inspection")
@role_required(Role.VERIFIER)
def inspection(claim_id: int) -> Response:
    claim = _claim(claim_id)
    passed = request.form.get("result") == "pass"
    inspections.record_inspection(db.session, claim, current_user, passed, _note())
    flash(_("Inspection recorded."), "info")
    return redirect(url_for("supervision.inspections"))


# --- farm help -------------------------------------------------------------------------


# --- donations -------------------------------------------------------------------------
