"""Public need pages, and the caseworker's desk: households, needs, timelines."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app import indexing, privacy
from app.accounts.models import OrgKind, Role
from app.claims import services as claim_services
from app.claims.forms import ClaimForm, ShiftForm
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors, city_choices, district_choices
from app.labels import choices
from app.needs import lifecycle, services
from app.needs.forms import HouseholdForm, NeedForm
from app.needs.models import (
    PUBLIC_STATES,
    CareCategory,
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
from app.places import gazetteer
from app.uploads import services as uploads
from search import DEFAULT_RADIUS_KM, MAX_RADIUS_KM, Point, SearchQuery, Sort

public_bp = Blueprint("needs", __name__)
work_bp = Blueprint("work", __name__, url_prefix="/work")


def _enum_arg(enum_cls: type, name: str) -> object | None:
    raw = request.args.get(name, "")
    try:
        return enum_cls(raw) if raw else None
    except ValueError:
        return None


def parse_filters() -> services.NeedFilters:
    """Filters from the query string; unknown values are ignored rather than failing a page."""
    return services.NeedFilters(
        kind=_enum_arg(NeedKind, "kind"),  # type: ignore[arg-type]
        city=request.args.get("city") or None,
        district=request.args.get("district") or None,
        status=_enum_arg(NeedState, "status"),  # type: ignore[arg-type]
        category=_enum_arg(CareCategory, "category"),  # type: ignore[arg-type]
    )


def page_number() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))


RADIUS_CHOICES_KM = (5, 10, 25, 50, 100, 200)


@public_bp.get("/needs")
def list_needs() -> str:
    """Browse or search the public needs: words, filters, near a place, on a map."""
    filters = parse_filters()
    query, form = _search_from_request(filters)
    page = indexing.search_needs(db.session, query)
    return render_template(
        "needs/list.html",
        page=page,
        filters=filters,
        search=form,
        kinds=choices(NeedKind),
        kind_labels=dict(choices(NeedKind)),
        statuses=[(s.value, label) for s, label in _public_state_choices()],
        cities=city_choices(),
        districts=district_choices(),
        near_choices=district_choices(include_blank=False),
        radius_choices=RADIUS_CHOICES_KM,
        default_radius=int(DEFAULT_RADIUS_KM),
        sorts=[
            (Sort.RELEVANCE.value, _("Best match")),
            (Sort.DISTANCE.value, _("Nearest")),
            (Sort.URGENCY.value, _("Most urgent")),
            (Sort.NEWEST.value, _("Newest")),
        ],
        markers=[
            {
                "id": need.id,
                "title": need.title,
                "lat": need.approx_lat,  # the public grid-cell centre, never the household
                "lng": need.approx_lng,
                "url": url_for("needs.need_detail", need_id=need.id),
            }
            for need in page.items
        ],
        map_tiles=current_app.config["MAP_TILE_URL"],
        map_attribution=current_app.config["MAP_TILE_ATTRIBUTION"],
        leaflet=_leaflet_installed(current_app.static_folder or ""),
    )


def _float_arg(name: str) -> float | None:
    try:
        value = float(request.args.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _search_from_request(filters: services.NeedFilters) -> tuple[SearchQuery, dict[str, Any]]:
    """The search the page asks for. Like the filters, a value that does not fit is
    ignored rather than failing the page: a point outside the map, a radius without a
    point, sorting by distance from nowhere."""
    form: dict[str, Any] = {
        "q": request.args.get("q", "").strip()[:200],
        "near": "",
        "lat": None,
        "lng": None,
        "radius_km": None,
        "sort": "",
    }
    point = None
    lat, lng = _float_arg("lat"), _float_arg("lng")
    near = gazetteer.get(request.args.get("near", ""))
    if near is not None and gazetteer.is_district(near.code):
        point = Point(near.lat, near.lng)  # the centre of a chosen district
        form["near"] = near.code
    elif lat is not None and lng is not None and -90 <= lat <= 90 and -180 <= lng <= 180:
        point = Point(lat, lng)  # the visitor's own location, from the browser
        form.update(lat=lat, lng=lng)
    radius = _float_arg("radius_km")
    if point is not None and radius is not None and 0 < radius <= MAX_RADIUS_KM:
        form["radius_km"] = radius
    try:
        sort = Sort(request.args.get("sort", ""))
    except ValueError:
        sort = None
    if sort is not None and (sort is not Sort.DISTANCE or point is not None):
        form["sort"] = sort.value
    status = filters.status if filters.status in PUBLIC_STATES else None
    query = SearchQuery(
        text=form["q"],
        kind=filters.kind.value if filters.kind else None,
        category=filters.category.value if filters.category else None,
        city=filters.city or None,
        district=filters.district or None,
        states=frozenset({status.value}) if status is not None else None,
        near=point,
        radius_km=form["radius_km"],
        sort=Sort(form["sort"]) if form["sort"] else None,
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
    )
    return query, form


@cache
def _leaflet_installed(static_folder: str) -> bool:
    """Whether ``make setup`` copied Leaflet in (the page works without it, minus the map)."""
    return (Path(static_folder) / "vendor" / "leaflet" / "leaflet.js").is_file()


def _public_state_choices() -> list[tuple[NeedState, str]]:
    from app.labels import label

    return [(s, label(s)) for s in NeedState if s in PUBLIC_STATES]


@public_bp.get("/needs/<int:need_id>")
def need_detail(need_id: int) -> str:
    need = db.session.get(Need, need_id)
    if need is None or not need.can_view(current_user):
        abort(404)  # a need that is not public does not exist for the public
    organisation = current_user.organisation if current_user.is_authenticated else None
    leads_team = (
        organisation is not None
        and organisation.kind is OrgKind.TEAM
        and current_user.is_org_admin(organisation)
    )
    return render_template(
        "needs/detail.html",
        need=need,
        claim_form=ClaimForm(),
        shifts=claim_services.shifts_of(db.session, need)
        if need.kind is NeedKind.FARM_HELP
        else [],
        team_members=claim_services.team_members(db.session, organisation)
        if leads_team and organisation is not None
        else [],
        funding=payments.progress(db.session, need) if payments.goal_minor(need) else None,
        takes_cash=payments.can_take_cash(db.session, need),
        cash_enabled=payments.enabled(),
    )


# --- caseworker's desk -----------------------------------------------------------------


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
        need_score=form.need_score.data or 0,
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
        shifts=claim_services.shifts_of(db.session, need),
        follow_ups=claim_services.follow_ups_of(db.session, need),
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
            claim_services.cancel_need(db.session, need, current_user, note)
        elif action == "close":
            claim_services.close_need(db.session, need, current_user, note)
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
