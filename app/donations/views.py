"""Companies log in-kind donations (one by one or by CSV); caseworkers confirm receipt,
reject, or give pooled goods to a need."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.models import OrgKind, Role
from app.donations import services
from app.donations.forms import CsvForm, DonationForm
from app.donations.models import Donation
from app.errors import ValidationFailed, get_or_404
from app.extensions import db
from app.forms import apply_service_errors, district_choices
from app.needs.models import Need
from app.permissions import role_required

bp = Blueprint("donations", __name__)


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
                import_result = services.import_csv(db.session, current_user, csv_form.file.data)
                if not import_result.errors:
                    flash(
                        ngettext(
                            "%(num)s donation logged.",
                            "%(num)s donations logged.",
                            import_result.created,
                        ),
                        "info",
                    )
                    return redirect(url_for("donations.donations"))
            elif request.form.get("action") == "log" and form.validate_on_submit():
                services.log_donation(
                    db.session,
                    current_user,
                    services.DonationData(
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
                return redirect(url_for("donations.donations"))
        except ValidationFailed as exc:
            apply_service_errors(csv_form if request.form.get("action") == "csv" else form, exc)
    return render_template(
        "donations/donations.html",
        form=form,
        csv_form=csv_form,
        import_result=import_result,
        donations=services.donations_of_company(db.session, current_user),
        can_log=current_user.organisation is not None
        and current_user.organisation.kind is OrgKind.COMPANY
        and current_user.organisation.can_claim(),
    ), status  # type: ignore[return-value]


@bp.post("/donations/<int:donation_id>/<decision>")
@role_required(Role.CASEWORKER)
def decide_donation(donation_id: int, decision: str) -> Response:
    donation = get_or_404(db.session, Donation, donation_id)
    if decision == "receive":
        services.receive_donation(db.session, donation, current_user)
    elif decision == "reject":
        services.reject_donation(db.session, donation, current_user)
    elif decision == "allocate":
        need = get_or_404(db.session, Need, request.form.get("need_id", type=int) or 0)
        services.allocate(db.session, donation, need, current_user)
    else:
        abort(404)
    flash(_("Saved."), "info")
    return redirect(url_for("work.review_donations"))
