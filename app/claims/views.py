"""Claiming, delivering, confirming; shifts and check-in; donations. Views stay thin:
parse, check who is asking, call a service, redirect."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import OrgKind, Role
from app.claims import donations as donation_services
from app.claims import services
from app.claims.forms import ClaimForm, CsvForm, DeliverForm, DonationForm, ShiftForm
from app.claims.models import Claim, DeliveryMethod, Donation, FollowUp, Shift, ShiftSignup
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors, district_choices
from app.needs.models import Need
from app.permissions import role_required
from app.uploads import services as uploads

bp = Blueprint("claims", __name__)

CLAIMERS = (Role.DONOR, Role.COMPANY, Role.TEAM)


def _claim(claim_id: int) -> Claim:
    return get_or_404(db.session, Claim, claim_id)


def _note() -> str:
    return request.form.get("note", "").strip()


def _follow_up_days() -> int | None:
    """Days until the follow-up visit, within a year (None: the default)."""
    days = request.form.get("follow_up_days", type=int)
    return None if days is None else max(0, min(days, 365))


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
    days = _follow_up_days()
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
    services.record_inspection(db.session, claim, current_user, passed, _note())
    flash(_("Inspection recorded."), "info")
    return redirect(url_for("supervision.inspections"))


@bp.post("/follow-ups/<int:follow_up_id>")
@role_required(Role.CASEWORKER)
def follow_up(follow_up_id: int) -> Response:
    visit = get_or_404(db.session, FollowUp, follow_up_id)
    services.record_follow_up(db.session, visit, current_user, request.form.get("outcome", ""))
    flash(_("Follow-up visit recorded."), "info")
    return redirect(url_for("work.need", need_id=visit.need_id))


@bp.post("/work/needs/<int:need_id>/thank-you")
@role_required(Role.CASEWORKER)
def thank_you(need_id: int) -> Response:
    need = get_or_404(db.session, Need, need_id)
    services.set_thank_you(db.session, need, current_user, request.form.get("thank_you", ""))
    flash(_("Thank-you published."), "info")
    return _back_to_need(need)


# --- farm help -------------------------------------------------------------------------


@bp.post("/work/needs/<int:need_id>/shifts")
@role_required(Role.CASEWORKER)
def add_shift(need_id: int) -> Response:
    need = get_or_404(db.session, Need, need_id)
    form = ShiftForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_("Please correct the marked fields."), form.errors)
    services.add_shift(
        db.session,
        need,
        current_user,
        services.ShiftData(
            day=form.day.data,
            start_time=form.start_time.data,
            end_time=form.end_time.data,
            places=form.places.data or 0,
            meeting_point=form.meeting_point.data or "",
        ),
    )
    flash(_("Shift added."), "info")
    return _back_to_need(need)


@bp.post("/shifts/<int:shift_id>/signup")
@role_required(Role.TEAM)
def signup(shift_id: int) -> Response:
    shift = get_or_404(db.session, Shift, shift_id)
    member_ids = [int(v) for v in request.form.getlist("member_ids") if v.isdigit()]
    signups = services.sign_up(db.session, shift, current_user, member_ids)
    flash(ngettext("%(num)s member signed up.", "%(num)s members signed up.", len(signups)), "info")
    return redirect(url_for("needs.need_detail", need_id=shift.need_id))


@bp.post("/signups/<int:signup_id>/cancel")
@role_required(Role.TEAM)
def cancel_signup(signup_id: int) -> Response:
    signup = get_or_404(db.session, ShiftSignup, signup_id)
    services.cancel_signup(db.session, signup, current_user)
    flash(_("Sign-up cancelled."), "info")
    return redirect(url_for("claims.mine"))


@bp.route("/shifts/<int:shift_id>/check", methods=["GET", "POST"])
@role_required(Role.TEAM)
def check(shift_id: int) -> str | Response:
    shift = get_or_404(db.session, Shift, shift_id)
    if request.method == "POST":
        code = request.form.get("code", "")
        if request.form.get("direction") == "out":
            signup = services.check_out(db.session, shift, current_user, code)
            flash(_("Checked out: %(hours)s hours recorded.", hours=signup.hours_worked), "info")
        else:
            services.check_in(db.session, shift, current_user, code)
            flash(_("Checked in. Thank you for coming!"), "info")
        return redirect(url_for("claims.check", shift_id=shift.id))
    booked = (
        db.session.query(ShiftSignup).filter_by(shift_id=shift.id, user_id=current_user.id).first()
    )
    if booked is None:
        abort(403)
    return render_template("claims/check.html", shift=shift, signup=booked)


@bp.post("/work/needs/<int:need_id>/farm/<step>")
@role_required(Role.CASEWORKER, Role.TEAM)
def farm_step(need_id: int, step: str) -> Response:
    need = get_or_404(db.session, Need, need_id)
    if step == "done":
        services.farm_work_done(db.session, need, current_user, _note())
    elif step == "confirm" and current_user.has_role(Role.CASEWORKER):
        services.confirm_farm_work(db.session, need, current_user, _follow_up_days())
    else:
        abort(404)
    flash(_("Saved."), "info")
    if need.can_view_private(current_user):
        return _back_to_need(need)
    return redirect(url_for("needs.need_detail", need_id=need.id))


# --- donations -------------------------------------------------------------------------


@bp.route("/donations", methods=["GET", "POST"])
@role_required(Role.COMPANY)
def donations() -> str | Response:
    form = DonationForm(prefix="d")
    form.district_code.choices = district_choices()
    csv_form = CsvForm(prefix="csv")
    status = 200
    import_result = None
    if request.method == "POST":
        status = 422
        try:
            if request.form.get("action") == "csv" and csv_form.validate_on_submit():
                import_result = donation_services.import_csv(
                    db.session, current_user, csv_form.file.data
                )
                if not import_result.errors:
                    flash(
                        ngettext(
                            "%(num)s donation logged.",
                            "%(num)s donations logged.",
                            import_result.created,
                        ),
                        "info",
                    )
                    return redirect(url_for("claims.donations"))
            elif request.form.get("action") == "log" and form.validate_on_submit():
                donation_services.log_donation(
                    db.session,
                    current_user,
                    donation_services.DonationData(
                        item=form.item.data or "",
                        quantity=form.quantity.data,
                        value_yuan=form.value_yuan.data,
                        need_id=form.need_id.data,
                        district_code=form.district_code.data or "",
                        note=form.note.data or "",
                    ),
                    receipt=form.receipt.data,
                )
                flash(_("Donation logged. It counts once a caseworker confirms receipt."), "info")
                return redirect(url_for("claims.donations"))
        except ValidationFailed as exc:
            apply_service_errors(csv_form if request.form.get("action") == "csv" else form, exc)
    return render_template(
        "claims/donations.html",
        form=form,
        csv_form=csv_form,
        import_result=import_result,
        donations=donation_services.donations_of_company(db.session, current_user),
        can_log=current_user.organisation is not None
        and current_user.organisation.kind is OrgKind.COMPANY
        and current_user.organisation.can_claim(),
    ), status  # type: ignore[return-value]


@bp.get("/work/donations")
@role_required(Role.CASEWORKER)
def review_donations() -> str:
    return render_template(
        "claims/review_donations.html",
        pending=donation_services.donations_to_review(db.session, current_user),
        pool=donation_services.pool_of(db.session, current_user),
    )


@bp.post("/donations/<int:donation_id>/<decision>")
@role_required(Role.CASEWORKER)
def decide_donation(donation_id: int, decision: str) -> Response:
    donation = get_or_404(db.session, Donation, donation_id)
    if decision == "receive":
        donation_services.receive_donation(db.session, donation, current_user)
    elif decision == "reject":
        donation_services.reject_donation(db.session, donation, current_user)
    elif decision == "allocate":
        need = get_or_404(db.session, Need, request.form.get("need_id", type=int) or 0)
        donation_services.allocate(db.session, donation, need, current_user)
    else:
        abort(404)
    flash(_("Saved."), "info")
    return redirect(url_for("claims.review_donations"))
