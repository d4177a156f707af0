"""Farm help: planning shifts, signing members up, check-in and check-out, reporting and
confirming the work. Views stay thin: parse, check who is asking, call a service, redirect."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import Role
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import follow_up_days
from app.needs.models import Need
from app.permissions import role_required
from app.shifts import services
from app.shifts.forms import ShiftForm
from app.shifts.models import Shift, ShiftSignup

bp = Blueprint("shifts", __name__)


def _note() -> str:
    return request.form.get("note", "").strip()


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
    return redirect(url_for("work.need", need_id=need.id))


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
        return redirect(url_for("shifts.check", shift_id=shift.id))
    booked = (
        db.session.query(ShiftSignup).filter_by(shift_id=shift.id, user_id=current_user.id).first()
    )
    if booked is None:
        abort(403)
    return render_template("shifts/check.html", shift=shift, signup=booked)


@bp.post("/work/needs/<int:need_id>/farm/<step>")
@role_required(Role.CASEWORKER, Role.TEAM)
def farm_step(need_id: int, step: str) -> Response:
    need = get_or_404(db.session, Need, need_id)
    if step == "done":
        services.farm_work_done(db.session, need, current_user, _note())
    elif step == "confirm" and current_user.has_role(Role.CASEWORKER):
        services.confirm_farm_work(db.session, need, current_user, follow_up_days())
    else:
        abort(404)
    flash(_("Saved."), "info")
    if need.can_view_private(current_user):
        return redirect(url_for("work.need", need_id=need.id))
    return redirect(url_for("needs.need_detail", need_id=need.id))
