"""Leaderboards, plaques, my points, the points shop, the impact report."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from app.accounts.models import Organisation, OrgKind, Role
from app.core.csvsafe import csv_text
from app.core.replica import replica_reads
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import city_choices, district_choices
from app.localtime import local_date
from app.models_base import CHINA
from app.permissions import role_required
from app.points import boards, services
from app.points.models import Redemption, Reward

bp = Blueprint("points", __name__)


def board_args() -> tuple[boards.Board, str, str | None]:
    """Board, period and area from the query string; unknown values fall back to defaults."""
    try:
        board = boards.Board(request.args.get("board", "companies"))
    except ValueError:
        board = boards.Board.COMPANIES
    period = request.args.get("period", "all")
    if period not in boards.PERIODS:
        period = "all"
    area = request.args.get("district") or request.args.get("city") or None
    return board, period, area


@bp.get("/leaderboards")
@replica_reads
def leaderboards() -> str:
    board, period, area = board_args()
    return render_template(
        "points/leaderboards.html",
        standings=boards.leaderboard(db.session, board, period, area),
        board=board,
        period=period,
        area=area,
        cities=city_choices(),
        districts=district_choices(),
    )


def _verified_company(org_id: int) -> Organisation:
    org = get_or_404(db.session, Organisation, org_id)
    if not org.is_verified:
        abort(404)  # only verified organisations have a public record
    return org


def plaque_url(org: Organisation) -> str:
    base = str(current_app.config["SITE_URL"]).rstrip("/")
    return base + url_for("points.plaque", org_id=org.id)


@bp.get("/companies/<int:org_id>")
@replica_reads
def plaque(org_id: int) -> str:
    org = _verified_company(org_id)
    points, rank = boards.company_rank(db.session, org)
    impact = boards.impact_report(db.session, org, None, None)
    return render_template(
        "points/plaque.html",
        org=org,
        points=points,
        rank=rank,
        impact=impact,
        verify_url=plaque_url(org),
    )


@bp.get("/companies/<int:org_id>/qr.svg")
def plaque_qr(org_id: int) -> Response:
    org = _verified_company(org_id)
    buffer = io.BytesIO()
    segno.make(plaque_url(org), error="m").save(buffer, kind="svg", scale=6, border=2)
    return Response(buffer.getvalue(), mimetype="image/svg+xml")


@bp.get("/points")
@login_required
def mine() -> str:
    owner = services.Owner.of(current_user)
    return render_template(
        "points/mine.html",
        balance=services.balance(db.session, owner),
        entries=services.entries(db.session, owner),
        redemptions=services.redemptions_of(db.session, owner),
        for_org=owner.org_id is not None,
    )


@bp.get("/rewards")
@replica_reads
def rewards() -> str:
    balance = None
    if current_user.is_authenticated:
        balance = services.balance(db.session, services.Owner.of(current_user))
    return render_template(
        "points/rewards.html", rewards=services.rewards(db.session), balance=balance
    )


@bp.post("/rewards/<int:reward_id>/redeem")
@login_required
def redeem(reward_id: int) -> BaseResponse:
    reward = get_or_404(db.session, Reward, reward_id)
    redemption = services.redeem(db.session, reward, current_user)
    flash(_("Redeemed. Show the code %(code)s when you collect it.", code=redemption.code), "info")
    return redirect(url_for("points.mine"))


@bp.post("/redemptions/<int:redemption_id>/cancel")
@login_required
def cancel(redemption_id: int) -> BaseResponse:
    redemption = get_or_404(db.session, Redemption, redemption_id)
    services.cancel_redemption(db.session, redemption, current_user)
    flash(_("Redemption cancelled; the points are back."), "info")
    if current_user.has_role(Role.ADMIN):
        return redirect(url_for("points.admin_rewards"))
    return redirect(url_for("points.mine"))


# --- admin: the shop -------------------------------------------------------------------


def _int_field(name: str, errors: dict[str, list[str]], minimum: int) -> int:
    raw = request.form.get(name, "").strip()
    if not raw.isdigit() or int(raw) < minimum:
        errors[name] = [_("Enter a whole number of at least %(n)s.", n=minimum)]
        return 0
    return int(raw)


@bp.route("/admin/rewards", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin_rewards() -> str | BaseResponse:
    status = 200
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        action = request.form.get("action")
        if action == "collect":
            redemption = services.redemption_by_code(db.session, request.form.get("code", ""))
            services.collect_redemption(db.session, redemption, current_user)
            flash(_("Handed over: %(code)s.", code=redemption.code), "info")
            return redirect(url_for("points.admin_rewards"))
        name_zh = request.form.get("name_zh", "").strip()
        if not name_zh or len(name_zh) > 80:
            errors["name_zh"] = [_("Give the reward a name.")]
        price = _int_field("price_points", errors, 1)
        stock = _int_field("stock", errors, 0)
        if errors:
            status = 422
        elif action == "update":
            reward = get_or_404(db.session, Reward, request.form.get("reward_id", type=int) or 0)
            reward.name_zh, reward.price_points, reward.stock = name_zh, price, stock
            reward.name_en = request.form.get("name_en", "").strip()[:80]
            reward.active = request.form.get("active") == "on"
            flash(_("Saved."), "info")
            return redirect(url_for("points.admin_rewards"))
        else:
            db.session.add(
                Reward(
                    name_zh=name_zh,
                    name_en=request.form.get("name_en", "").strip()[:80],
                    description=request.form.get("description", "").strip()[:500],
                    price_points=price,
                    stock=stock,
                )
            )
            flash(_("Reward added."), "info")
            return redirect(url_for("points.admin_rewards"))
    return render_template(
        "points/admin_rewards.html",
        rewards=services.rewards(db.session, include_inactive=True),
        errors=errors,
        form=request.form,
    ), status  # type: ignore[return-value]


# --- impact report ---------------------------------------------------------------------


def _report_period() -> tuple[date | None, date | None]:
    """``from``/``to`` dates (inclusive), or a ``period`` of month/year/all."""

    def parse(name: str) -> date | None:
        raw = request.args.get(name, "")
        try:
            return date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationFailed(
                _("Dates look like 2026-01-31."), {name: [_("Dates look like 2026-01-31.")]}
            ) from None

    start, end = parse("from"), parse("to")
    if start is None and end is None:
        begin = services.period_start(request.args.get("period", "year"))
        return (begin.date() if begin else None), None
    return start, end


def _as_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    def local(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=CHINA)

    return (local(start) if start else None), (local(end + timedelta(days=1)) if end else None)


def _period_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k in ("from", "to", "period") and v}


def _my_org() -> Organisation:
    org = current_user.organisation
    if org is None or not current_user.is_org_admin(org):
        abort(403)
    return org


@bp.get("/organisation/impact")
@replica_reads
@role_required(Role.COMPANY, Role.TEAM)
def impact() -> str:
    org = _my_org()
    start, end = _report_period()
    report = boards.impact_report(db.session, org, *_as_range(start, end))
    return render_template(
        "points/impact.html",
        org=org,
        report=report,
        start=start,
        end=end,
        printable=request.args.get("print") == "1",
        is_team=org.kind is OrgKind.TEAM,
        # The filters as they are, whatever else the address holds (``print`` included).
        csv_url=url_for("points.impact_csv", **_period_args()),  # type: ignore[arg-type]
        print_url=url_for("points.impact", **_period_args(), print="1"),  # type: ignore[arg-type]
    )


@bp.get("/organisation/impact.csv")
@replica_reads
@role_required(Role.COMPANY, Role.TEAM)
def impact_csv() -> Response:
    org = _my_org()
    start, end = _report_period()
    report = boards.impact_report(db.session, org, *_as_range(start, end))
    rows: list[list[object]] = [
        [
            local_date(line.day),
            line.what,
            line.need_id or "",
            line.title,
            line.district_code,
            line.value_yuan,
            line.hours,
        ]
        for line in report.lines
    ]
    rows += [
        [],
        ["households", report.households],
        ["needs", report.needs],
        ["value_yuan", report.value_yuan],
        ["hours", report.hours],
    ]
    header = ["date", "kind", "need_id", "title", "district", "value_yuan", "hours"]
    filename = f"impact-{org.id}-{(start or 'all')}-{(end or 'now')}.csv"
    return Response(
        csv_text(header, rows),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/review/points-settlement")
@role_required(Role.VERIFIER)
def work_settlement() -> str:
    """The quarterly settlement of points for visits and applications (郁南), printable."""
    from app.places import gazetteer

    quarter = request.args.get("quarter") or services.current_quarter()
    if services.quarter_bounds(quarter) is None:
        quarter = services.current_quarter()
    area = current_user.area_code or ""
    place = gazetteer.get(area)
    codes = (
        None
        if place is not None and place.level == "province"
        else [d.code for d in gazetteer.districts() if gazetteer.covers(area, d.code)]
    )
    rows = services.work_settlement(db.session, quarter, codes)
    year = int(quarter[:4])
    quarters = [f"{y}Q{q}" for y in (year - 1, year, year + 1) for q in range(1, 5)]
    return render_template(
        "points/settlement.html",
        rows=rows,
        quarter=quarter,
        quarters=quarters,
        total=sum(r.points for r in rows),
    )
