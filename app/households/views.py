"""The caseworker's household records on a phone: circumstances, members, events, the
explained score, visits due and the visit log; the admin's areas, rules and city figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import Role
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors, city_choices, district_choices
from app.households import services
from app.households.forms import (
    AreaForm,
    CityForm,
    EventForm,
    MemberForm,
    ProfileForm,
    ScoreForm,
    VisitForm,
)
from app.households.models import (
    Area,
    AreaLevel,
    Finding,
    HouseholdMember,
    LifeEvent,
    Relation,
    Visit,
    VisitMethod,
)
from app.households.score import Score
from app.models_base import CHINA, utcnow
from app.needs import services as needs
from app.needs.forms import NeedForm
from app.needs.models import (
    Assistance,
    CareCategory,
    ConsentScope,
    Household,
    NeedKind,
    PersonGroup,
)
from app.permissions import role_required
from app.places import gazetteer

bp = Blueprint("households", __name__)


def _visible(household_id: int) -> Household:
    household = get_or_404(db.session, Household, household_id)
    if not household.can_view(current_user):
        abort(403)
    return household


def _editable(household_id: int) -> Household:
    household = _visible(household_id)
    if not household.can_edit(current_user):
        abort(403)
    return household


# --- what the household page shows (work/household.html includes it) ---------------------


@dataclass
class Panel:
    members: list[HouseholdMember]
    visits: list[Visit]
    score: Score
    events: list[Any]
    history: list[Any]
    town: Area | None
    village: Area | None
    services: list[str]


@bp.app_template_global()
def household_panel(household: Household) -> Panel:
    """The private records around a household, for its page (staff of its area only: the
    page that includes this checked ``can_view``)."""
    session = db.session
    wanted = set(services.service_ids_of(household))
    return Panel(
        members=services.members_of(session, household),
        visits=services.visits_of(session, household, limit=50),
        score=services.explain_household(session, household),
        events=services.events_of(session, household),
        history=services.history_of(session, household)[:50],
        town=session.get(Area, household.town_id) if household.town_id else None,
        village=session.get(Area, household.village_id) if household.village_id else None,
        services=[
            s.name
            for s in services.local_services_for(session, household.district_code)
            if s.id in wanted
        ],
    )


@bp.app_template_global()
def household_groups(household: Household) -> list[PersonGroup]:
    return services.groups_of(household)


@bp.app_template_global()
def household_care(household: Household) -> list[CareCategory]:
    return services.care_kinds_of(household)


@bp.app_template_global()
def area_label(area: Area | None) -> str:
    return services.area_name(area)


# --- circumstances, members, events, score -------------------------------------------------


def _area_choices(district_code: str, level: AreaLevel) -> list[tuple[str, str]]:
    areas = [a for a in services.areas_of(db.session, district_code) if a.level is level]
    return [("", "—")] + [(str(a.id), services.area_name(a)) for a in areas]


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.route("/work/households/<int:household_id>/profile", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def profile(household_id: int) -> Any:
    household = _editable(household_id)
    form = ProfileForm(obj=household if request.method == "GET" else None)
    form.registered_district_code.choices = district_choices()
    form.town_id.choices = _area_choices(household.district_code, AreaLevel.TOWN)
    form.village_id.choices = _area_choices(household.district_code, AreaLevel.VILLAGE)
    offered = services.local_services_for(db.session, household.district_code)
    form.local_services.choices = [(str(s.id), s.name) for s in offered]
    if request.method == "GET":
        form.registered_district_code.data = household.registered_district_code or ""
        form.town_id.data = str(household.town_id or "")
        form.village_id.data = str(household.village_id or "")
        form.assistance.data = household.assistance.value
        form.consent_scope.data = household.consent_scope.value
        form.extra_groups.data = [g.value for g in services.groups_of(household)[1:]]
        form.care_kinds.data = [c.value for c in services.care_kinds_of(household)]
        form.local_services.data = [str(i) for i in services.service_ids_of(household)]
    if form.validate_on_submit():
        data = services.ProfileData(
            registered_district_code=form.registered_district_code.data or None,
            town_id=_int_or_none(form.town_id.data),
            village_id=_int_or_none(form.village_id.data),
            assistance=Assistance(form.assistance.data),
            lives_alone=bool(form.lives_alone.data),
            extra_groups=[PersonGroup(v) for v in form.extra_groups.data or []],
            care_kinds=[CareCategory(v) for v in form.care_kinds.data or []],
            local_service_ids=[int(v) for v in form.local_services.data or [] if v.isdigit()],
            consent_on=form.consent_on.data,
            consent_scope=ConsentScope(form.consent_scope.data),
            income_per_head_yuan=form.income_per_head_yuan.data,
            savings_yuan=form.savings_yuan.data,
            has_car=bool(form.has_car.data),
            has_extra_house=bool(form.has_extra_house.data),
        )
        try:
            services.update_profile(db.session, household, current_user, data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Circumstances saved."), "info")
            return redirect(url_for("work.household", household_id=household.id))
    status = 422 if request.method == "POST" else 200
    return render_template("households/profile.html", form=form, household=household), status


@bp.route("/work/households/<int:household_id>/members", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def add_member(household_id: int) -> Any:
    household = _editable(household_id)
    form = MemberForm()
    if form.validate_on_submit():
        data = services.MemberData(
            name=form.name.data or "",
            relation=Relation(form.relation.data),
            birth_year=form.birth_year.data or 0,
            disabled=bool(form.disabled.data),
            seriously_ill=bool(form.seriously_ill.data),
            works=bool(form.works.data),
        )
        try:
            services.add_member(db.session, household, current_user, data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Member added."), "info")
            return redirect(url_for("work.household", household_id=household.id) + "#members")
    status = 422 if request.method == "POST" else 200
    return render_template("households/member_form.html", form=form, household=household), status


@bp.post("/work/members/<int:member_id>/delete")
@role_required(Role.CASEWORKER)
def remove_member(member_id: int) -> Response:
    member = get_or_404(db.session, HouseholdMember, member_id)
    household = _editable(member.household_id)
    services.remove_member(db.session, member, current_user)
    flash(_("Member removed."), "info")
    return redirect(url_for("work.household", household_id=household.id) + "#members")


@bp.route("/work/households/<int:household_id>/events", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def record_event(household_id: int) -> Any:
    household = _editable(household_id)
    form = EventForm()
    if form.validate_on_submit():
        try:
            services.record_event(
                db.session,
                household,
                current_user,
                LifeEvent(form.kind.data),
                form.occurred_on.data,  # type: ignore[arg-type]
                form.note.data or "",
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Recorded. A visit is now due soon."), "info")
            return redirect(url_for("work.household", household_id=household.id))
    status = 422 if request.method == "POST" else 200
    return render_template("households/event_form.html", form=form, household=household), status


@bp.route("/work/households/<int:household_id>/score", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def override_score(household_id: int) -> Any:
    household = _editable(household_id)
    form = ScoreForm()
    if request.method == "GET" and household.score_override is not None:
        form.score.data = str(household.score_override)
    if form.validate_on_submit():
        value = int(form.score.data) if form.score.data not in (None, "") else None
        try:
            services.override_score(
                db.session, household, current_user, value, form.reason.data or ""
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Score saved."), "info")
            return redirect(url_for("work.household", household_id=household.id) + "#score")
    status = 422 if request.method == "POST" else 200
    return render_template(
        "households/score_form.html",
        form=form,
        household=household,
        score=services.explain_household(db.session, household),
    ), status


# --- visits --------------------------------------------------------------------------------


@bp.get("/work/visits")
@role_required(Role.CASEWORKER, Role.VERIFIER)
def visits_due() -> str:
    today = datetime.now(CHINA).date()
    return render_template(
        "households/visits_due.html",
        households=services.due_visits(db.session, current_user),
        today=today,
        board=services.household_board(db.session, current_user),
    )


def _local_now_input() -> str:
    return utcnow().astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


@bp.route("/work/households/<int:household_id>/visit", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def log_visit(household_id: int) -> Any:
    """The phone page: a visit in under a minute. The browser keeps a draft of what was
    typed (static/js/visit-draft.js) until the server has saved it."""
    household = _editable(household_id)
    form = VisitForm()
    if request.method == "GET":
        form.visited_at.data = (
            utcnow().astimezone(CHINA).replace(second=0, microsecond=0, tzinfo=None)
        )
    if form.validate_on_submit():
        assert form.visited_at.data is not None
        data = services.VisitData(
            visited_at=form.visited_at.data.replace(tzinfo=CHINA),
            method=VisitMethod(form.method.data),
            met=form.met.data or "",
            findings=[Finding(v) for v in form.findings.data or []],
            note=form.note.data or "",
            need_found=bool(form.need_found.data),
        )
        try:
            visit = services.log_visit(
                db.session, household, current_user, data, request.files.get("photo")
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            if visit.need_found:
                flash(_("Visit saved. Now write up the need that was found."), "info")
                target = url_for("households.need_from_visit", visit_id=visit.id, saved=1)
            else:
                flash(_("Visit saved."), "info")
                target = url_for("work.household", household_id=household.id, saved=1)
            return redirect(target)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "households/visit_form.html", form=form, household=household, max_at=_local_now_input()
    ), status


def _need_data(form: NeedForm) -> needs.NeedData:
    from app.work.views import _need_data as from_form

    return from_form(form)


def need_prefill(household: Household, visit: Visit) -> dict[str, str]:
    """A draft need that starts from what the visit found and who the household is."""
    care = services.care_kinds_of(household)
    findings = visit.finding_list
    if Finding.UNSAFE_HOME in findings:
        kind, category = NeedKind.REPAIR, CareCategory.HOUSING
    else:
        kind = NeedKind.MICRO_WISH
        category = care[0] if care else CareCategory.LIVING
    return {
        "kind": kind.value,
        "category": category.value,
        "title": visit.note.split("。")[0][:40],
        "story": visit.note,
    }


@bp.route("/work/visits/<int:visit_id>/need", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def need_from_visit(visit_id: int) -> Any:
    visit = get_or_404(db.session, Visit, visit_id)
    household = _editable(visit.household_id)
    if visit.draft_need_id is not None:
        return redirect(url_for("work.need", need_id=visit.draft_need_id))
    form = NeedForm()
    if request.method == "GET":
        for name, value in need_prefill(household, visit).items():
            getattr(form, name).data = value
    if form.validate_on_submit():
        try:
            need = needs.create_need(db.session, current_user, household, _need_data(form))
            services.link_found_need(db.session, visit, need, current_user)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Draft saved. Submit it for verification when it is ready."), "info")
            return redirect(url_for("work.need", need_id=need.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "work/need_form.html", form=form, household=household, need=None, from_visit=visit
    ), status


@bp.post("/work/visits/<int:visit_id>/reject")
@role_required(Role.VERIFIER)
def reject_visit(visit_id: int) -> Response:
    visit = get_or_404(db.session, Visit, visit_id)
    _visible(visit.household_id)
    services.reject_visit(db.session, visit, current_user, request.form.get("note", ""))
    flash(_("Visit rejected; its points were taken back."), "info")
    return redirect(url_for("work.household", household_id=visit.household_id) + "#visits")


# --- the admin's areas, rules and city figures ---------------------------------------------


@bp.route("/admin/areas", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def areas() -> Any:
    district = request.args.get("district", "")
    if not gazetteer.is_district(district):
        district = ""
    form = AreaForm()
    form.parent_id.choices = (
        [("", _("— a new town —"))]
        + [(v, t) for v, t in _area_choices(district, AreaLevel.TOWN) if v]
        if district
        else [("", "—")]
    )
    if district and form.validate_on_submit():
        parent = db.session.get(Area, int(form.parent_id.data)) if form.parent_id.data else None
        try:
            services.create_area(db.session, current_user, district, form.name.data or "", parent)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Added."), "info")
            return redirect(url_for("households.areas", district=district))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "households/areas.html",
        form=form,
        district=district,
        districts=district_choices(),
        areas=services.areas_of(db.session, district) if district else [],
    ), status


@bp.route("/admin/visit-rules", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def visit_rules() -> Any:
    from app.labels import visit_criterion_label

    errors: dict[str, list[str]] = {}
    current = services.visit_rules(db.session)
    if request.method == "POST":
        wanted: dict[str, int | None] = {}
        for criterion in services.criteria():
            raw = request.form.get(criterion, "").strip()
            if not raw:
                wanted[criterion] = None
            elif raw.isdigit():
                wanted[criterion] = int(raw)
            else:
                errors[criterion] = [_("Between 1 and 366 days.")]
        if not errors:
            try:
                services.set_visit_rules(db.session, current_user, wanted)
            except ValidationFailed as exc:
                errors = exc.errors
            else:
                flash(_("Visit rules saved."), "info")
                return redirect(url_for("households.visit_rules"))
        current = {k: v for k, v in wanted.items() if v is not None} if not errors else current
    rows = [
        (c, visit_criterion_label(c), request.form.get(c, current.get(c, "")), errors.get(c))
        for c in services.criteria()
    ]
    return render_template("households/visit_rules.html", rows=rows, has_errors=bool(errors)), (
        422 if errors else 200
    )


@bp.route("/admin/cities", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def cities() -> Any:
    form = CityForm()
    form.city_code.choices = city_choices()
    if form.validate_on_submit():
        try:
            if form.dibao_line_yuan.data:
                services.set_dibao_line(
                    db.session, current_user, form.city_code.data, form.dibao_line_yuan.data
                )
            if form.service_name.data:
                services.add_local_service(
                    db.session, current_user, form.city_code.data, form.service_name.data
                )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Saved."), "info")
            return redirect(url_for("households.cities"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "households/cities.html",
        form=form,
        lines=services.dibao_lines(db.session),
        local_services=services.all_local_services(db.session),
    ), status


@bp.app_template_global()
def local_time(moment: datetime | None, with_time: bool = True) -> str:
    """A stored UTC moment as Beijing time."""
    if moment is None:
        return ""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


@bp.app_template_global()
def household_light_why(code: str) -> str:
    from app.labels import household_light_reason

    return str(household_light_reason(code))


@bp.app_template_global()
def history_label(kind: str) -> str:
    from flask_babel import lazy_gettext as _l

    names = {
        "profile": _l("Circumstances changed"),
        "member_added": _l("Member added"),
        "member_removed": _l("Member removed"),
        "event": _l("Event recorded"),
        "visit": _l("Visit logged"),
        "visit_rejected": _l("Visit rejected"),
        "need_drafted": _l("Need drafted from a visit"),
        "score_override": _l("Score set by hand"),
        "score_reset": _l("Score back to computed"),
        "light": _l("Light changed"),
        "application": _l("Application accepted"),
    }
    return str(names.get(kind, kind))


@bp.app_template_global()
def history_text(entry: Any) -> str:
    from app.labels import label
    from app.needs.models import Light

    enums: dict[str, Any] = {
        "visit": VisitMethod,
        "event": LifeEvent,
        "member_added": Relation,
        "member_removed": Relation,
        "light": Light,
    }
    enum_cls = enums.get(entry.kind)
    if enum_cls is not None:
        try:
            return label(enum_cls(entry.text))
        except ValueError:
            return str(entry.text)
    return str(entry.text)


@bp.app_template_global()
def household_board_for(user: Any) -> services.HouseholdBoard:
    return services.household_board(db.session, user)
