"""Report pages: dashboards, the lists behind them, the public transparency page, exports,
imports and printable reports. Views parse, check and render; the work is in the modules
next to this one."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import Role
from app.extensions import db
from app.needs.models import CareCategory, Light, NeedKind, PersonGroup
from app.permissions import role_required
from app.places import gazetteer
from app.reports import rollups, services
from app.reports.models import ImportBatch

bp = Blueprint("reports", __name__, url_prefix="/reports")
public_bp = Blueprint("transparency", __name__)

STAFF = (Role.CASEWORKER, Role.VERIFIER, Role.ADMIN)
PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _vendor(static_folder: str, name: str) -> bool:
    return (Path(static_folder) / "vendor" / name).exists()


def _filters() -> tuple[gazetteer.Place, services.Period, str]:
    area = services.resolve_area(current_user, request.args.get("area"))
    period, group_by = services.parse_query(
        request.args.get("period"), request.args.get("group_by")
    )
    return area, period, group_by


@bp.get("/")
@role_required(*STAFF)
def dashboard() -> str:
    area, period, group_by = _filters()
    data = services.summary(db.session, area, period, group_by)
    return render_template(
        "reports/dashboard.html",
        data=data,
        area=area,
        period=period,
        group_by=group_by,
        area_choices=services.area_choices(current_user),
        group_by_choices=_group_by_choices(),
        charts=_vendor(current_app.static_folder or "", "echarts/echarts.min.js"),
        link=lambda key, measure: url_for(
            "reports.needs",
            **services.drill_link_args(area, period, group_by, key, measure),  # type: ignore[arg-type]
        ),
    )


def _group_by_choices() -> list[tuple[str, str]]:
    return [
        ("month", _("Month")),
        ("area", _("Area")),
        ("kind", _("Kind of need")),
        ("category", _("Care category")),
        ("group", _("Person group")),
    ]


@bp.post("/refresh")
@role_required(*STAFF)
def refresh() -> Response:
    """Rebuild the figures now for the user's area (the worker does it on a schedule)."""
    area = services.resolve_area(current_user, request.form.get("area"))
    rollups.refresh(db.session, services.districts_of(area.code))
    flash(_("The figures are up to date."), "info")
    return redirect(url_for("reports.dashboard", area=area.code, period=request.form.get("period")))


@bp.get("/needs")
@role_required(*STAFF)
def needs() -> str:
    """The needs behind one figure of the dashboard."""
    area = services.resolve_area(current_user, request.args.get("area"))
    period = services.parse_period(request.args.get("period"))
    sub_area = request.args.get("sub_area", "")
    if sub_area:
        services.resolve_area(current_user, sub_area)
    filters = services.DrillFilters(
        area=area,
        period=period,
        measure=_choice(
            request.args.get("measure"), ("collected", "published", "resolved", "light")
        ),
        month=request.args.get("month", "") if request.args.get("month") else "",
        sub_area=sub_area,
        kind=_choice(request.args.get("kind"), [k.value for k in NeedKind], ""),
        category=_choice(request.args.get("category"), [c.value for c in CareCategory], ""),
        group=_choice(request.args.get("group"), [g.value for g in PersonGroup], ""),
        light=_choice(request.args.get("light"), [light.value for light in Light], ""),
    )
    if filters.month:
        services.parse_period(filters.month)  # a malformed month is a 422, not a 500
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = services.drill_query(filters)
    rows = db.session.scalars(query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    from app.labels import label

    described = [
        label(enum_cls(value))
        for enum_cls, value in (
            (NeedKind, filters.kind),
            (CareCategory, filters.category),
            (PersonGroup, filters.group),
        )
        if value
    ]
    if filters.measure == "light":
        described.insert(0, label(Light(filters.light or "red")))
    return render_template(
        "reports/needs.html",
        described=described,
        needs=rows[:PAGE_SIZE],
        has_next=len(rows) > PAGE_SIZE,
        page=page,
        filters=filters,
    )


def _choice(value: str | None, allowed: object, default: str = "collected") -> str:
    return value if value and value in allowed else default  # type: ignore[operator]


@public_bp.get("/transparency")
def transparency() -> str:
    """Wishes fulfilled, hours, money and goods by city and month, with a map; no
    household detail, small cells suppressed."""
    period = services.parse_period(request.args.get("period"))
    return render_template(
        "reports/transparency.html",
        data=services.public_summary(db.session, period),
        period=period,
        last_refresh=rollups.last_refresh(db.session),
        leaflet=_vendor(current_app.static_folder or "", "leaflet/leaflet.js"),
        charts=_vendor(current_app.static_folder or "", "echarts/echarts.min.js"),
    )


@bp.app_template_filter("localtime")
def localtime_filter(value: object) -> str:
    """A UTC time (datetime or ISO text) as Beijing time, to the minute."""
    from datetime import datetime

    from app.models_base import CHINA

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("waiting")
def waiting_filter(hours: int | None) -> str:
    """A histogram bound in hours, as people say it: "up to 3 hours", "up to 2 days"."""
    if hours is None:
        return "—"
    if hours < 24:
        return _("up to %(n)s hours", n=hours)
    return _("up to %(n)s days", n=hours // 24)


# --- exports -------------------------------------------------------------------------------


@bp.get("/exports")
@role_required(*STAFF)
def exports() -> str:
    from app.reports.exports import ledger_choices

    area = services.resolve_area(current_user, request.args.get("area"))
    period = services.parse_period(request.args.get("period"))
    return render_template(
        "reports/exports.html",
        area=area,
        period=period,
        area_choices=services.area_choices(current_user),
        ledgers=ledger_choices(),
    )


@bp.get("/exports/<ledger>.<file_format>")
@role_required(*STAFF)
def export_file(ledger: str, file_format: str) -> Response:
    """One ledger as a file. CSV streams row by row; Excel is written to a temporary file
    in openpyxl's write-only mode; the export is logged either way."""
    from app.reports import exports as ledgers

    job = ledgers.start_export(
        db.session,
        current_user,
        ledger,
        file_format,
        request.args.get("area"),
        request.args.get("period"),
    )
    # The log row is committed before the file goes out, whatever happens while streaming.
    db.session.commit()
    filename = f"{job.filename}-{ledgers.today_stamp()}.{file_format}"
    if file_format == "csv":
        return Response(
            ledgers.csv_stream(current_app._get_current_object(), job),  # type: ignore[attr-defined]
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(
        ledgers.file_chunks(ledgers.xlsx_file(db.session, job)),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/exports/log")
@role_required(Role.VERIFIER, Role.ADMIN)
def export_log() -> str:
    from app.reports.exports import LEDGERS
    from app.reports.exports import export_log as log

    return render_template(
        "reports/export_log.html", entries=log(db.session, current_user), ledgers=LEDGERS
    )


# --- imports -------------------------------------------------------------------------------


IMPORT_ROLES = (Role.CASEWORKER, Role.COMPANY)


@bp.get("/imports")
@role_required(*IMPORT_ROLES)
def imports() -> str:
    from app.reports import imports as importer

    kinds = [k for k in importer.KINDS if importer.may_import(current_user, k)]
    return render_template(
        "reports/imports.html",
        kinds=kinds,
        titles=importer.TITLES,
        fields=importer.FIELDS,
        errors={},
    )


@bp.get("/imports/<kind>/template.xlsx")
@role_required(*IMPORT_ROLES)
def import_template(kind: str) -> Response:
    from flask import send_file

    from app.reports import imports as importer

    importer._check_kind(current_user, kind)
    return send_file(
        io.BytesIO(importer.template(kind)),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"{kind}-template.xlsx",
    )


@bp.post("/imports/<kind>")
@role_required(*IMPORT_ROLES)
def import_upload(kind: str) -> Response | tuple[str, int]:
    from app.errors import ValidationFailed
    from app.reports import imports as importer

    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed(
                _("Choose a workbook to upload."), {"file": [_("Choose a workbook to upload.")]}
            )
        batch = importer.upload(
            db.session,
            current_user,
            kind,
            upload.filename,
            upload.read(importer.MAX_BYTES + 1),
        )
    except ValidationFailed as error:
        kinds = [k for k in importer.KINDS if importer.may_import(current_user, k)]
        return render_template(
            "reports/imports.html",
            kinds=kinds,
            titles=importer.TITLES,
            fields=importer.FIELDS,
            errors={kind: error.errors.get("file") or [str(error.message)]},
        ), 422
    return redirect(url_for("reports.import_batch", batch_id=batch.id))


def _my_batch(batch_id: int) -> ImportBatch:
    from flask import abort

    from app.errors import get_or_404

    batch = get_or_404(db.session, ImportBatch, batch_id)
    if batch.user_id != current_user.id:
        abort(404)
    return batch


@bp.get("/imports/batch/<int:batch_id>")
@role_required(*IMPORT_ROLES)
def import_batch(batch_id: int) -> str:
    from app.reports import imports as importer

    batch = _my_batch(batch_id)
    return render_template(
        "reports/import_batch.html",
        batch=batch,
        errors=sorted(importer.errors_of(batch).items()),
        header_of=importer.header_of,
        title=importer.TITLES[batch.kind],
    )


@bp.get("/imports/batch/<int:batch_id>/annotated.xlsx")
@role_required(*IMPORT_ROLES)
def import_annotated(batch_id: int) -> Response:
    from flask import abort, send_file

    from app.reports import imports as importer

    batch = _my_batch(batch_id)
    if batch.content is None:
        abort(404)
    return send_file(
        io.BytesIO(importer.annotated(batch)),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"checked-{batch_id}.xlsx",
    )


@bp.post("/imports/batch/<int:batch_id>/commit")
@role_required(*IMPORT_ROLES)
def import_commit(batch_id: int) -> Response:
    from app.reports import imports as importer

    batch = _my_batch(batch_id)
    outcome = importer.commit_batch(db.session, current_user, batch)
    if outcome.errors:
        flash(_("Nothing was imported: some rows have problems."), "error")
    else:
        flash(
            _(
                "Imported: %(created)s new, %(skipped)s already imported before.",
                created=outcome.created,
                skipped=outcome.skipped,
            ),
            "info",
        )
    return redirect(url_for("reports.import_batch", batch_id=batch_id))


# --- printable reports ---------------------------------------------------------------------


def _month_arg() -> services.Period:
    from app.models_base import local_today

    raw = request.args.get("month") or local_today().strftime("%Y-%m")
    period = services.parse_period(raw)
    if period.first != period.last:
        period = services.parse_period(period.last)
    return period


@bp.get("/monthly")
@role_required(*STAFF)
def monthly() -> str:
    area = services.resolve_area(current_user, request.args.get("area"))
    month = _month_arg()
    return render_template(
        "reports/monthly.html",
        report=services.monthly_report(db.session, area, month),
        area=area,
        month=month,
        area_choices=services.area_choices(current_user),
        charts=_vendor(current_app.static_folder or "", "echarts/echarts.min.js"),
    )


@bp.get("/monthly.pdf")
@role_required(*STAFF)
def monthly_pdf() -> Response:
    from flask import send_file

    from app.reports.pdf import monthly_report_pdf

    area = services.resolve_area(current_user, request.args.get("area"))
    month = _month_arg()
    report = services.monthly_report(db.session, area, month)
    report["as_of"] = localtime_filter(report["as_of"]) if report["as_of"] else None
    report["waiting"] = waiting_filter
    return send_file(
        io.BytesIO(monthly_report_pdf(report)),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"monthly-{area.code}-{month.key}.pdf",
    )


@bp.get("/impact.pdf")
@role_required(Role.COMPANY, Role.TEAM)
def impact_pdf() -> Response:
    """The organisation's impact report (the page at /organisation/impact) as a PDF."""
    from flask import abort, send_file

    from app.models_base import CHINA
    from app.points import boards
    from app.points.views import _as_range, _report_period
    from app.reports.pdf import impact_pdf as render_pdf

    org = current_user.organisation
    if org is None or not current_user.is_org_admin(org):
        abort(403)
    start, end = _report_period()
    report = boards.impact_report(db.session, org, *_as_range(start, end))
    what = {"claim": _("Claim"), "donation": _("Donation"), "hours": _("Volunteer hours")}
    figures = {
        "name": org.name,
        "period": f"{start or '…'} – {end or '…'}",
        "households": services.suppress_households(report.households),
        "needs": report.needs,
        "value_yuan": report.value_yuan,
        "hours": report.hours,
        "small_cell": services.SMALL_CELL,
        "lines": [
            [
                line.day.astimezone(CHINA).strftime("%Y-%m-%d"),
                what.get(line.what, line.what),
                line.title,
                _place_name(line.district_code),
                line.value_yuan,
                line.hours,
            ]
            for line in report.lines
        ],
    }
    return send_file(
        io.BytesIO(render_pdf(figures)),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"impact-{org.id}.pdf",
    )


def _place_name(code: str) -> str:
    from app.templating import place_name

    return place_name(code)
