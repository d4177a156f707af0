"""Agents enter applications on a phone and follow their own; caseworkers work the
intake queue; admins create agents."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.accounts.models import Role
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors
from app.households import services as households
from app.households.models import Area
from app.intake import services
from app.intake.forms import AgentForm, ApplicationForm, ReturnForm
from app.intake.models import Application
from app.needs.forms import NeedForm
from app.needs.models import CareCategory, NeedKind, PersonGroup
from app.permissions import role_required
from app.uploads import services as uploads

bp = Blueprint("intake", __name__)


def _data(form: ApplicationForm) -> services.ApplicationData:
    return services.ApplicationData(
        applicant_name=form.applicant_name.data or "",
        id_number=form.id_number.data or "",
        phone=form.phone.data or "",
        address=form.address.data or "",
        group=PersonGroup(form.group.data),
        kind=NeedKind(form.kind.data),
        category=CareCategory(form.category.data),
        need_text=form.need_text.data or "",
    )


def _documents() -> list[Any]:
    return [f for f in request.files.getlist("documents") if f and f.filename]


# --- the agent's side ----------------------------------------------------------------------


@bp.get("/agent/")
@role_required(Role.AGENT)
def agent_home() -> str:
    return render_template(
        "intake/agent_home.html",
        applications=services.applications_of_agent(db.session, current_user),
        area=services.agent_area(db.session, current_user),
    )


@bp.route("/agent/applications/new", methods=["GET", "POST"])
@role_required(Role.AGENT)
def new_application() -> Any:
    form = ApplicationForm()
    if form.validate_on_submit():
        try:
            application = services.submit_application(
                db.session, current_user, _data(form), _documents()
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Application sent to the caseworker."), "info")
            return redirect(url_for("intake.agent_application", application_id=application.id))
    status = 422 if request.method == "POST" else 200
    return render_template("intake/application_form.html", form=form, application=None), status


def _own(application_id: int) -> Application:
    application = get_or_404(db.session, Application, application_id)
    if not application.is_agent(current_user):
        abort(404)  # another agent's application does not exist for this one
    return application


@bp.route("/agent/applications/<int:application_id>", methods=["GET", "POST"])
@role_required(Role.AGENT)
def agent_application(application_id: int) -> Any:
    application = _own(application_id)
    form = ApplicationForm(obj=application if request.method == "GET" else None)
    if request.method == "GET":
        form.group.data = application.group.value
        form.kind.data = application.kind.value
        form.category.data = application.category.value
    can_resubmit = services.APPLICATION.can(application, "resubmit", current_user)
    if can_resubmit and form.validate_on_submit():
        try:
            services.correct_and_resubmit(
                db.session, application, current_user, _data(form), _documents()
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Application sent again."), "info")
            return redirect(url_for("intake.agent_application", application_id=application.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "intake/agent_application.html",
        application=application,
        form=form,
        can_resubmit=can_resubmit,
        can_withdraw=services.APPLICATION.can(application, "withdraw", current_user),
        history=services.APPLICATION.history(db.session, application),
        documents=uploads.attachments_for(db.session, "application", application.id),
    ), status


@bp.post("/agent/applications/<int:application_id>/withdraw")
@role_required(Role.AGENT)
def withdraw(application_id: int) -> Response:
    application = _own(application_id)
    services.withdraw(db.session, application, current_user)
    flash(_("Application withdrawn."), "info")
    return redirect(url_for("intake.agent_home"))


# --- the caseworker's intake queue ---------------------------------------------------------


@bp.get("/work/intake")
@role_required(Role.CASEWORKER, Role.VERIFIER)
def queue() -> str:
    show_all = request.args.get("all") == "1"
    return render_template(
        "intake/queue.html",
        applications=services.intake_queue(db.session, current_user, include_decided=show_all),
        show_all=show_all,
    )


def _for_caseworker(application_id: int) -> Application:
    application = get_or_404(db.session, Application, application_id)
    if not application.can_view(current_user) or application.is_agent(current_user):
        abort(403)
    return application


@bp.route("/work/intake/<int:application_id>", methods=["GET", "POST"])
@role_required(Role.CASEWORKER, Role.VERIFIER)
def application(application_id: int) -> Any:
    """Read the application; accept it with a draft need, or return it with a reason."""
    application = _for_caseworker(application_id)
    form = NeedForm()
    can_decide = services.APPLICATION.can(application, "accept", current_user)
    if request.method == "GET":
        for name, value in services.draft_from_application(application).items():
            getattr(form, name).data = value
    if request.method == "POST":
        if not can_decide:
            abort(403)
        if form.validate_on_submit():
            from app.work.views import _need_data

            try:
                need = services.accept_application(
                    db.session, application, current_user, _need_data(form)
                )
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                flash(_("Accepted: the household and a draft need are recorded."), "info")
                return redirect(url_for("work.need", need_id=need.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "intake/application.html",
        application=application,
        form=form,
        return_form=ReturnForm(),
        can_decide=can_decide,
        existing=services.matching_household(db.session, application),
        history=services.APPLICATION.history(db.session, application),
        documents=uploads.attachments_for(db.session, "application", application.id),
        area=households.area_name(application.area),
    ), status


@bp.post("/work/intake/<int:application_id>/return")
@role_required(Role.CASEWORKER)
def return_application(application_id: int) -> Response:
    application = _for_caseworker(application_id)
    services.return_application(db.session, application, current_user, request.form.get("note", ""))
    flash(_("Returned to the agent with your reason."), "info")
    return redirect(url_for("intake.queue"))


# --- the admin's agents --------------------------------------------------------------------


@bp.route("/admin/agents", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def agents() -> Any:
    form = AgentForm()
    all_areas = list(db.session.scalars(select(Area).order_by(Area.district_code, Area.id)))
    from app.templating import place_name

    form.area_id.choices = [("", "—")] + [
        (str(a.id), f"{place_name(a.district_code)} · {households.area_name(a)}") for a in all_areas
    ]
    if form.validate_on_submit():
        area = db.session.get(Area, int(form.area_id.data)) if form.area_id.data.isdigit() else None
        try:
            services.create_agent(
                db.session,
                current_user,
                form.email.data or "",
                form.display_name.data or "",
                area,
                form.password.data or "",
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            flash(_("Agent account created."), "info")
            return redirect(url_for("intake.agents"))
    status = 422 if request.method == "POST" else 200
    areas_by_id = {a.id: a for a in all_areas}
    return render_template(
        "intake/agents.html",
        form=form,
        agents=services.agents(db.session),
        area_of=lambda user: households.area_name(areas_by_id.get(user.area_id)),
    ), status


@bp.app_template_global()
def household_applications(household: Any) -> list[Any]:
    """Applications that led to ``household``, for its page (which checked ``can_view``).
    Registered from here because intake builds on households, not the other way round."""
    return services.applications_for_household(db.session, household)


@bp.app_template_global()
def label_status(value: str) -> str:
    """An application's status, from the value recorded in its history."""
    from app.intake.models import ApplicationStatus
    from app.labels import label

    try:
        return label(ApplicationStatus(value))
    except ValueError:
        return value
