"""Recommendations and season planning. Views stay thin: check who is asking, call a
service, render."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import Organisation, Role
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors
from app.matching import services
from app.matching.forms import WEEKDAY_NAMES, MatchingProfileForm
from app.models_base import local_today
from app.needs.models import Need
from app.permissions import role_required

bp = Blueprint("matching", __name__)

ORG_ROLES = (Role.TEAM, Role.COMPANY)
# At most this many lines in one accepted plan (a form is not a bulk API).
MAX_PLAN_LINES = 2000


def _admin_organisation() -> Organisation:
    """The current user's organisation, when they lead it; otherwise 403."""
    organisation = current_user.organisation
    if organisation is None or not current_user.is_org_admin(organisation):
        abort(403)
    return organisation


@bp.get("/match/needs")
@role_required(*ORG_ROLES)
def recommended_needs() -> str:
    organisation = _admin_organisation()
    result = services.recommend_for(db.session, organisation, local_today())
    return render_template("matching/needs.html", organisation=organisation, result=result)


@bp.get("/work/needs/<int:need_id>/matches")
@role_required(Role.CASEWORKER)
def need_matches(need_id: int) -> str:
    need = get_or_404(db.session, Need, need_id)
    result = services.matches_for_need(db.session, need, current_user, local_today())
    return render_template("matching/need_matches.html", need=need, result=result)


@bp.get("/work/plan")
@role_required(Role.CASEWORKER)
def plan() -> str:
    view = services.season_plan(db.session, current_user, local_today())
    return render_template("matching/plan.html", view=view)


def _plan_items() -> list[services.PlanItem]:
    items = []
    for line in request.form.getlist("line")[: MAX_PLAN_LINES + 1]:
        parts = line.split(":")
        if len(parts) != 3 or not all(p.isdigit() and len(p) <= 9 for p in parts):
            raise ValidationFailed(_("The plan could not be read. Please reload it."))
        team_id, shift_id, people = (int(p) for p in parts)
        items.append(services.PlanItem(team_id, shift_id, people))
    if not items or len(items) > MAX_PLAN_LINES:
        raise ValidationFailed(_("The plan could not be read. Please reload it."))
    return items


@bp.post("/work/plan/accept")
@role_required(Role.CASEWORKER)
def accept_plan() -> str:
    items = _plan_items()
    report = services.accept_plan(db.session, current_user, items, local_today())
    return render_template("matching/accepted.html", report=report)


@bp.route("/organisation/matching", methods=["GET", "POST"])
@role_required(*ORG_ROLES)
def profile() -> str | Response:
    organisation = _admin_organisation()
    form = MatchingProfileForm(
        data={
            "district_code": organisation.district_code,
            "base_lat": organisation.base_lat,
            "base_lng": organisation.base_lng,
            "radius_km": organisation.radius_km,
            "team_size": organisation.team_size,
            "weekdays": sorted(services.weekdays_of(organisation)),
        }
        if request.method == "GET"
        else None
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.update_matching_profile(
                    db.session,
                    organisation,
                    current_user,
                    services.MatchingProfile(
                        district_code=form.district_code.data or "",
                        base_lat=form.base_lat.data,
                        base_lng=form.base_lng.data,
                        radius_km=form.radius_km.data,
                        team_size=form.team_size.data,
                        weekdays=list(form.weekdays.data or []),
                    ),
                )
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                flash(_("Matching settings saved."), "info")
                return redirect(url_for("matching.recommended_needs"))
        status = 422
    return render_template(  # type: ignore[return-value]
        "matching/profile.html", form=form, organisation=organisation, weekdays=WEEKDAY_NAMES
    ), status
