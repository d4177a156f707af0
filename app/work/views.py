"""The caseworker's desk: every ``/work`` page (dashboard, households, a need's desk page
with its claim, shifts, follow-ups and money, donations to confirm). The pages gather what
the domains hold; the actions they post to live with their domains."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app import privacy
from app.accounts.models import Role
from app.claims import services as claim_services
from app.donations import services as donation_services
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors, district_choices
from app.needs import fulfilment, lifecycle, services
from app.needs.forms import HouseholdForm, NeedForm
from app.needs.models import (
    CareCategory,
    FollowUp,
    Household,
    Need,
    NeedKind,
    NeedState,
    PersonGroup,
    RepairCategory,
    Skill,
    Urgency,
)
from app.payments import services as payments
from app.permissions import role_required
from app.shifts import services as shift_services
from app.shifts.forms import ShiftForm
from app.uploads import services as uploads

work_bp = Blueprint("work", __name__, url_prefix="/work")


@work_bp.get("/")
@role_required(Role.CASEWORKER)
def dashboard() -> str:
    needs = services.needs_for_caseworker(db.session, current_user)
    return render_template("work/dashboard.html", needs=needs)


@work_bp.get("/households")
@role_required(Role.CASEWORKER, Role.VERIFIER)
def households() -> str:
    return render_template(
        "work/households.html", households=services.households_for(db.session, current_user)
    )


def _household_form(household: Household | None = None) -> HouseholdForm:
    form = HouseholdForm(obj=household)
    form.district_code.choices = [
        c for c in district_choices() if not c[0] or current_user.works_in(c[0])
    ]
    if household is not None and request.method == "GET":
        form.group.data = household.group.value
    return form


def _household_data(form: HouseholdForm) -> services.HouseholdData:
    return services.HouseholdData(
        name=form.name.data or "",
        id_number=form.id_number.data or "",
        phone=form.phone.data or "",
        address=form.address.data or "",
        district_code=form.district_code.data or "",
        group=PersonGroup(form.group.data),
        lat=form.lat.data,
        lng=form.lng.data,
        notes=form.notes.data or "",
    )


@work_bp.route("/households/new", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def new_household() -> str | Response:
    form = _household_form()
    if request.method == "GET" and current_user.area_code:
        form.district_code.data = current_user.area_code
    if form.validate_on_submit():
        try:
            household = services.create_household(db.session, current_user, _household_data(form))
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Household recorded."), "info")
            return redirect(url_for("work.household", household_id=household.id))
    status = 422 if request.method == "POST" else 200
    return render_template("work/household_form.html", form=form, household=None), status  # type: ignore[return-value]


def _visible_household(household_id: int) -> Household:
    household = get_or_404(db.session, Household, household_id)
    if not household.can_view(current_user):
        abort(403)
    return household


@work_bp.get("/households/<int:household_id>")
@role_required(Role.CASEWORKER, Role.VERIFIER)
def household(household_id: int) -> str:
    household = _visible_household(household_id)
    return render_template(
        "work/household.html",
        household=household,
        needs=services.needs_of_household(db.session, household),
    )


@work_bp.route("/households/<int:household_id>/edit", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def edit_household(household_id: int) -> str | Response:
    household = _visible_household(household_id)
    if not household.can_edit(current_user):
        abort(403)
    form = _household_form(household)
    if form.validate_on_submit():
        try:
            services.update_household(db.session, household, current_user, _household_data(form))
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Household updated."), "info")
            return redirect(url_for("work.household", household_id=household.id))
    status = 422 if request.method == "POST" else 200
    return render_template("work/household_form.html", form=form, household=household), status  # type: ignore[return-value]


def _need_data(form: NeedForm) -> services.NeedData:
    return services.NeedData(
        kind=NeedKind(form.kind.data),
        title=form.title.data or "",
        story=form.story.data or "",
        category=CareCategory(form.category.data),
        urgency=Urgency(form.urgency.data),
        deadline=form.deadline.data,
        item=form.item.data or "",
        quantity=form.quantity.data,
        estimated_value_yuan=form.estimated_value_yuan.data,
        task=form.task.data or "",
        window_start=form.window_start.data,
        window_end=form.window_end.data,
        volunteers_needed=form.volunteers_needed.data,
        hours_per_volunteer=form.hours_per_volunteer.data,
        repair_category=RepairCategory(form.repair_category.data)
        if form.repair_category.data
        else None,
        skills=[Skill(s) for s in form.skills.data or []],
        estimated_cost_yuan=form.estimated_cost_yuan.data,
    )


@work_bp.route("/households/<int:household_id>/needs/new", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def new_need(household_id: int) -> str | Response:
    household = _visible_household(household_id)
    form = NeedForm()
    if request.method == "GET" and request.args.get("kind") in {k.value for k in NeedKind}:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        try:
            need = services.create_need(db.session, current_user, household, _need_data(form))
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Draft saved. Submit it for verification when it is ready."), "info")
            return redirect(url_for("work.need", need_id=need.id))
    status = 422 if request.method == "POST" else 200
    return render_template("work/need_form.html", form=form, household=household, need=None), status  # type: ignore[return-value]


def _visible_need(need_id: int) -> Need:
    need = get_or_404(db.session, Need, need_id)
    if not need.can_view_private(current_user):
        abort(403)
    return need


@work_bp.route("/needs/<int:need_id>/edit", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def edit_need(need_id: int) -> str | Response:
    need = _visible_need(need_id)
    if not need.can_edit(current_user):
        abort(403)
    form = NeedForm(obj=need)
    if request.method == "GET":
        form.kind.data = need.kind.value
        form.category.data = need.category.value
        form.urgency.data = need.urgency.value
        form.repair_category.data = need.repair_category.value if need.repair_category else ""
        form.skills.data = [s.value for s in need.skills]
    if form.validate_on_submit():
        try:
            services.update_need(db.session, need, current_user, _need_data(form))
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Changes saved."), "info")
            return redirect(url_for("work.need", need_id=need.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "work/need_form.html", form=form, household=need.household, need=need
    ), status  # type: ignore[return-value]


@work_bp.get("/needs/<int:need_id>")
@role_required(Role.CASEWORKER, Role.VERIFIER)
def need(need_id: int) -> str:
    return _render_need(_visible_need(need_id))


def _privacy_findings(need: Need) -> list[dict[str, Any]]:
    """Per field with findings: its text with the parts marked, and what each part is."""
    if need.state not in (NeedState.SUBMITTED, NeedState.PUBLISHED):
        return []
    fields: dict[str, dict[str, Any]] = {}
    texts = services.public_text_of(need)
    for name, finding, why in services.privacy_review(need):
        entry = fields.setdefault(name, {"field": name, "findings": [], "reasons": []})
        entry["findings"].append(finding)
        entry["reasons"].append((finding.certain, why))
    for entry in fields.values():
        entry["marked"] = privacy.highlight(texts[entry["field"]], entry["findings"])
        entry["certain"] = any(f.certain for f in entry["findings"])
    return list(fields.values())


def _render_need(need: Need, action_error: ValidationFailed | None = None) -> str:
    claim = claim_services.live_claim(db.session, need)
    return render_template(
        "work/need.html",
        need=need,
        events=lifecycle.timeline(db.session, need),
        actions=[a for a in lifecycle.available_actions(need, current_user) if a in DESK_ACTIONS],
        action_labels=lifecycle.ACTION_LABELS,
        note_required={a for a, t in lifecycle.TRANSITIONS.items() if t.note_required},
        action_error=action_error,
        privacy_findings=_privacy_findings(need),
        field_labels={
            "title": _("Title"),
            "story": _("Story"),
            "item": _("Item"),
            "task": _("Task"),
            "thank_you": _("Thank-you"),
        },
        claim=claim,
        past_claims=claim_services.claims_for_need(db.session, need),
        shifts=shift_services.shifts_of(db.session, need),
        follow_ups=fulfilment.follow_ups_of(db.session, need),
        photos=uploads.attachments_for(db.session, "claim", claim.id) if claim else [],
        shift_form=ShiftForm(),
        funding=payments.progress(db.session, need) if payments.goal_minor(need) else None,
        cash_gifts=payments.cash_donations_for(db.session, need),
    )


# Lifecycle actions taken straight from the need page. Claiming, delivery and confirmation
# have their own bookkeeping and go through app.claims.
DESK_ACTIONS = ("submit", "approve", "reject", "pull_back", "cancel", "close")


@work_bp.post("/needs/<int:need_id>/<action>")
@role_required(Role.CASEWORKER, Role.VERIFIER)
def act(need_id: int, action: str) -> Response | tuple[str, int]:
    """Perform one lifecycle action; the transition function checks state and permission.
    A refused action shows the need page again with the reason next to the buttons."""
    if action not in DESK_ACTIONS:
        abort(404)
    need = get_or_404(db.session, Need, need_id)
    if not need.can_view_private(current_user):
        abort(404)
    note = request.form.get("note", "")
    try:
        if action == "cancel":
            fulfilment.cancel_need(db.session, need, current_user, note)
        elif action == "close":
            fulfilment.close_need(db.session, need, current_user, note)
        elif action == "approve":
            services.approve_need(
                db.session, need, current_user, bool(request.form.get("privacy_checked"))
            )
        else:
            lifecycle.transition(db.session, need, action, current_user, note=note)
    except ValidationFailed as exc:
        return _render_need(need, action_error=exc), exc.status
    flash(_("Done: %(action)s.", action=lifecycle.ACTION_LABELS[action]), "info")
    return redirect(url_for("work.need", need_id=need.id))


@work_bp.post("/follow-ups/<int:follow_up_id>")
@role_required(Role.CASEWORKER)
def follow_up(follow_up_id: int) -> Response:
    visit = get_or_404(db.session, FollowUp, follow_up_id)
    fulfilment.record_follow_up(db.session, visit, current_user, request.form.get("outcome", ""))
    flash(_("Follow-up visit recorded."), "info")
    return redirect(url_for("work.need", need_id=visit.need_id))


@work_bp.post("/needs/<int:need_id>/thank-you")
@role_required(Role.CASEWORKER)
def thank_you(need_id: int) -> Response:
    need = get_or_404(db.session, Need, need_id)
    fulfilment.set_thank_you(db.session, need, current_user, request.form.get("thank_you", ""))
    flash(_("Thank-you published."), "info")
    return redirect(url_for("work.need", need_id=need.id))


@work_bp.get("/donations")
@role_required(Role.CASEWORKER)
def review_donations() -> str:
    return render_template(
        "donations/review_donations.html",
        pending=donation_services.donations_to_review(db.session, current_user),
        pool=donation_services.pool_of(db.session, current_user),
    )
