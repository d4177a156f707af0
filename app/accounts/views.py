"""Sign-in, registration, organisation pages and the admin's verification desk."""

from __future__ import annotations

import io

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.accounts import services, teams
from app.accounts.forms import (
    ApiKeyForm,
    DecisionForm,
    LoginForm,
    MemberForm,
    RegisterForm,
    StaffForm,
)
from app.accounts.models import (
    ApiKey,
    Organisation,
    OrganisationSkill,
    OrgKind,
    Role,
    Skill,
    TeamInvite,
    User,
)
from app.errors import Conflict, NotAllowed, NotFound, ValidationFailed, get_or_404
from app.extensions import db, limiter
from app.forms import apply_service_errors, area_choices, district_choices
from app.labels import choices
from app.permissions import role_required
from app.urls import site_url

bp = Blueprint("accounts", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


def is_local_path(target: str) -> bool:
    """A path on this site: not ``//host``, and not ``/\\host`` (which browsers read alike)."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    return target if is_local_path(target) else default


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                db.session, form.email.data or "", form.password.data or ""
            )
        except NotAllowed as exc:
            form.form_errors.append(str(exc.message))
        else:
            login_user(user)
            return redirect(_safe_next(url_for("accounts.dashboard")))
    status = 200 if request.method == "GET" else 400 if form.errors or form.form_errors else 200
    return render_template("accounts/login.html", form=form), status  # type: ignore[return-value]


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("core.home"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def register() -> str | Response:
    form = RegisterForm()
    form.district_code.choices = district_choices()
    if form.validate_on_submit():
        data = services.Registration(
            email=form.email.data or "",
            password=form.password.data or "",
            display_name=form.display_name.data or "",
            role=Role(form.role.data),
            organisation_name=form.organisation_name.data or "",
            licence_number=form.licence_number.data or "",
            district_code=form.district_code.data or "",
        )
        try:
            user = services.register(db.session, data)
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
        else:
            login_user(user)
            if user.organisation is not None:
                flash(
                    _(
                        "Welcome! Your organisation will be able to claim needs once an "
                        "admin has verified it."
                    ),
                    "info",
                )
            else:
                flash(_("Welcome! You can now claim micro-wishes."), "info")
            return redirect(_safe_next(url_for("accounts.dashboard")))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/register.html", form=form), status  # type: ignore[return-value]


@bp.get("/me")
@login_required
def dashboard() -> Response | str:
    """Send each person to the desk they work from."""
    if current_user.has_role(Role.CASEWORKER):
        return redirect(url_for("work.dashboard"))
    if current_user.has_role(Role.VERIFIER):
        return redirect(url_for("supervision.queue"))
    if current_user.has_role(Role.ADMIN):
        return redirect(url_for("admin.organisations"))
    return render_template("accounts/me.html", organisation=current_user.organisation)


@bp.post("/me/leaderboard-name")
@login_required
def leaderboard_name() -> Response:
    services.set_board_name(db.session, current_user, request.form.get("board_name", ""))
    flash(_("Saved: how you appear on the leaderboards."), "info")
    return redirect(url_for("accounts.dashboard"))


@bp.route("/organisation", methods=["GET", "POST"])
@role_required(Role.COMPANY, Role.TEAM)
def organisation() -> str | Response:
    org = current_user.organisation
    if org is None:
        return render_template("accounts/me.html", organisation=None)
    member_form = MemberForm(prefix="member")
    key_form = ApiKeyForm(prefix="key")
    new_key = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "add_member" and member_form.validate_on_submit():
                services.add_member(db.session, org, current_user, member_form.email.data or "")
                flash(_("Member added."), "info")
                return redirect(url_for("accounts.organisation"))
            if action == "skills" and current_user.is_org_admin(org):
                services.declare_skills(
                    db.session, org, current_user, request.form.getlist("skills")
                )
                flash(_("Skills saved. New ones count once an admin has verified them."), "info")
                return redirect(url_for("accounts.organisation"))
            if action == "create_key" and key_form.validate_on_submit():
                new_key = services.create_api_key(
                    db.session, org, current_user, key_form.name.data or ""
                )
            elif action not in {"add_member", "create_key", "skills"}:
                status = 400
            else:
                status = 422
        except ValidationFailed as exc:
            apply_service_errors(member_form if action == "add_member" else key_form, exc)
            status = 422
    keys = services.api_keys_of(db.session, org) if org.kind is OrgKind.COMPANY else []
    return render_template(
        "accounts/organisation.html",
        organisation=org,
        members=services.members_of(db.session, org),
        keys=keys,
        new_key=new_key,
        member_form=member_form,
        key_form=key_form,
        is_admin=current_user.is_org_admin(org),
        invites=teams.invites_of(db.session, org) if org.kind is OrgKind.TEAM else [],
        invite_url=lambda invite: site_url("accounts.join", token=invite.token),
        invite_days=teams.INVITE_DAYS,
        all_skills=choices(Skill),
        declared={s.skill for s in org.skills},
    ), status  # type: ignore[return-value]


# --- volunteer team membership ---------------------------------------------------------


def _my_team() -> Organisation:
    org = current_user.organisation
    if org is None:
        abort(404)
    return org


@bp.post("/organisation/invites")
@role_required(Role.TEAM)
def create_invite() -> Response:
    days = request.form.get("days", "7")
    teams.create_invite(db.session, _my_team(), current_user, int(days) if days.isdigit() else 0)
    flash(_("New invitation link ready: share it or show the QR code."), "info")
    return redirect(url_for("accounts.organisation", _anchor="invites"))


@bp.post("/organisation/invites/<int:invite_id>/revoke")
@role_required(Role.TEAM)
def revoke_invite(invite_id: int) -> Response:
    invite = get_or_404(db.session, TeamInvite, invite_id)
    teams.revoke_invite(db.session, invite, current_user)
    flash(_("The invitation link no longer works."), "info")
    return redirect(url_for("accounts.organisation", _anchor="invites"))


@bp.get("/organisation/invites/<int:invite_id>/qr.svg")
@role_required(Role.TEAM)
def invite_qr(invite_id: int) -> Response:
    invite = get_or_404(db.session, TeamInvite, invite_id)
    if not current_user.is_org_admin(invite.organisation):
        abort(404)
    buffer = io.BytesIO()
    segno.make(site_url("accounts.join", token=invite.token), error="m").save(
        buffer, kind="svg", scale=5, border=2
    )
    return Response(buffer.getvalue(), mimetype="image/svg+xml")


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str) -> str | Response | tuple[str, int]:
    """The page an invitation link or QR code opens; joining needs an account."""
    try:
        invite = teams.usable_invite(db.session, token)
    except (NotFound, Conflict) as exc:
        return render_template("accounts/join.html", invite=None, problem=exc.message), exc.status
    if request.method == "POST":
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.path))
        try:
            teams.join(db.session, token, current_user)
        except (Conflict, NotAllowed) as exc:
            return render_template(
                "accounts/join.html", invite=invite, problem=exc.message
            ), exc.status
        flash(_("Welcome to %(name)s!", name=invite.organisation.name), "info")
        return redirect(url_for("accounts.organisation"))
    return render_template("accounts/join.html", invite=invite, problem=None)


@bp.post("/organisation/members/<int:membership_id>/remove")
@role_required(Role.TEAM)
def remove_member(membership_id: int) -> Response:
    teams.remove_member(db.session, _my_team(), current_user, membership_id)
    flash(_("Member removed."), "info")
    return redirect(url_for("accounts.organisation"))


@bp.post("/organisation/members/<int:membership_id>/lead")
@role_required(Role.TEAM)
def hand_over(membership_id: int) -> Response:
    teams.hand_over(db.session, _my_team(), current_user, membership_id)
    flash(_("Leadership handed over."), "info")
    return redirect(url_for("accounts.organisation"))


@bp.post("/organisation/keys/<int:key_id>/revoke")
@role_required(Role.COMPANY)
def revoke_key(key_id: int) -> Response:
    key = get_or_404(db.session, ApiKey, key_id)
    services.revoke_api_key(db.session, key, current_user)
    flash(_("The key was revoked."), "info")
    return redirect(url_for("accounts.organisation"))


# --- admin -----------------------------------------------------------------------------


@admin_bp.get("/organisations")
@role_required(Role.ADMIN)
def organisations() -> str:
    return render_template(
        "accounts/admin/organisations.html",
        organisations=services.organisations_for_review(db.session),
        form=DecisionForm(),
    )


@admin_bp.post("/organisations/<int:org_id>/<decision>")
@role_required(Role.ADMIN)
def decide(org_id: int, decision: str) -> Response:
    if decision not in {"verify", "reject"}:
        abort(404)
    org = get_or_404(db.session, Organisation, org_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_("Please correct the marked fields."), form.errors)
    services.decide_organisation(
        db.session, org, current_user, decision == "verify", form.note.data or ""
    )
    flash(_("%(name)s: decision recorded.", name=org.name), "info")
    return redirect(url_for("admin.organisations"))


@admin_bp.post("/skills/<int:skill_id>/<decision>")
@role_required(Role.ADMIN)
def decide_skill(skill_id: int, decision: str) -> Response:
    if decision not in {"verify", "reject"}:
        abort(404)
    skill = get_or_404(db.session, OrganisationSkill, skill_id)
    services.verify_skill(db.session, skill, current_user, decision == "verify")
    flash(_("Saved."), "info")
    return redirect(url_for("admin.organisations"))


@admin_bp.route("/staff", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def staff() -> str | Response:
    form = StaffForm()
    form.area_code.choices = [("", "—"), *area_choices()]
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_staff(
                db.session,
                current_user,
                email=form.email.data or "",
                display_name=form.display_name.data or "",
                role=Role(form.role.data),
                area_code=form.area_code.data or "",
                password=form.password.data or "",
            )
        except ValidationFailed as exc:
            apply_service_errors(form, exc)
            status = 422
        else:
            flash(_("Account created for %(email)s.", email=user.email), "info")
            return redirect(url_for("admin.staff"))
    elif request.method == "POST":
        status = 422
    people = db.session.scalars(
        select(User).where(User.role.in_(services.STAFF_ROLES)).order_by(User.role, User.email)
    ).all()
    return render_template("accounts/admin/staff.html", form=form, people=people), status  # type: ignore[return-value]
