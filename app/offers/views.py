"""Offer pages: browse and book, the pickup code, the provider's phone page, the provider's
offers and permits, linking people to households, and the admin's permit reviews."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

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
from flask_login import current_user, login_user
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.accounts.models import Role
from app.donations.models import Donation
from app.errors import DomainError, NotAllowed, ValidationFailed, get_or_404
from app.extensions import db, limiter
from app.forms import apply_service_errors, city_choices, district_choices
from app.labels import choices, label
from app.models_base import local_today
from app.needs.models import Household
from app.offers import pool as pool_services
from app.offers import services
from app.offers.forms import CodeForm, JoinForm, LinkForm, OfferForm, PermitForm
from app.offers.models import (
    Booking,
    Offer,
    OfferKind,
    OfferSlot,
    OfferStatus,
    PoolReservation,
    ProviderPermit,
)
from app.permissions import role_required
from app.places import gazetteer

bp = Blueprint("offers", __name__)


def _offer(offer_id: int) -> Offer:
    return get_or_404(db.session, Offer, offer_id)


def _households_for(user: Any) -> list[Household]:
    """The caseworker's households, to book for (names are for their eyes only)."""
    if not user.has_role(Role.CASEWORKER) or not user.area_code:
        return []
    rows = db.session.scalars(select(Household).order_by(Household.id).limit(2000)).all()
    return [h for h in rows if h.can_edit(user)]


# --- browsing and booking ---------------------------------------------------------------------


@bp.get("/offers")
def list_offers() -> str:
    kind_raw = request.args.get("kind", "")
    kind = OfferKind(kind_raw) if kind_raw in {k.value for k in OfferKind} else None
    city = request.args.get("city", "")
    district = request.args.get("district", "")
    filters = services.OfferFilters(
        kind=kind,
        city=city if any(c.code == city for c in gazetteer.cities()) else None,
        district=district if gazetteer.is_district(district) else None,
        q=request.args.get("q", "")[:100],
    )
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1000))
    per_page = 20
    found, total = services.search_offers(db.session, filters, per_page, (page - 1) * per_page)
    slots = services.open_slots(db.session, found)
    return render_template(
        "offers/list.html",
        offers=found,
        total=total,
        page=page,
        pages=max(1, -(-total // per_page)),
        slots=slots,
        filters=filters,
        kinds=choices(OfferKind),
        cities=city_choices(),
        districts=district_choices(),
        markers=[
            {
                "id": o.id,
                "title": f"{o.organisation.name} · {o.title}",
                "lat": o.lat,  # the provider's own place, public like a shop sign
                "lng": o.lng,
                "url": url_for("offers.detail", offer_id=o.id),
            }
            for o in found
        ],
        map_tiles=current_app.config["MAP_TILE_URL"],
        map_attribution=current_app.config["MAP_TILE_ATTRIBUTION"],
        leaflet=_leaflet_installed(),
        window_text=services.window_text,
    )


def _leaflet_installed() -> bool:
    from pathlib import Path

    return (Path(current_app.static_folder or "") / "vendor" / "leaflet" / "leaflet.js").is_file()


@bp.get("/offers/<int:offer_id>")
def detail(offer_id: int) -> str:
    offer = _offer(offer_id)
    recipient = services.recipient_of(db.session, current_user)
    return render_template(
        "offers/detail.html",
        offer=offer,
        slots=services.open_slots(db.session, [offer])[offer.id],
        can_book=offer.is_bookable and services.can_book(current_user),
        households=_households_for(current_user) if current_user.is_authenticated else [],
        recipient=recipient,
        unverified_left=(
            current_app.config["OFFER_UNVERIFIED_PICKUPS"] - recipient.unverified_used
            if recipient is not None and not recipient.is_linked
            else None
        ),
        uptake=services.uptake(db.session, [offer])[offer.id]
        if offer.can_manage(current_user)
        else None,
        history=services.OFFER.history(db.session, offer) if offer.can_manage(current_user) else [],
        label_status=lambda value: label(OfferStatus(value)),
        window_text=services.window_text,
        what_text=services.what_text,
    )


@bp.post("/offers/<int:offer_id>/book")
@role_required(Role.CASEWORKER, Role.RECIPIENT)
def book(offer_id: int) -> WerkzeugResponse:
    offer = _offer(offer_id)
    slot_id = request.form.get("slot_id", type=int)
    slot = db.session.get(OfferSlot, slot_id) if slot_id and 0 < slot_id < 2**31 else None
    if slot is None or slot.offer_id != offer.id:
        raise ValidationFailed(
            _("Please correct the marked fields."), {"slot_id": [_("Choose a time window.")]}
        )
    household = None
    if current_user.has_role(Role.CASEWORKER):
        household_id = request.form.get("household_id", type=int)
        household = (
            db.session.get(Household, household_id)
            if household_id and 0 < household_id < 2**31
            else None
        )
        if household is None:
            raise ValidationFailed(
                _("Please correct the marked fields."),
                {"household_id": [_("Choose a household of your area.")]},
            )
    try:
        booking = services.book(db.session, current_user, slot, household)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("offers.detail", offer_id=offer.id))
    flash(_("Booked. The pickup code is %(code)s.", code=booking.code), "info")
    return redirect(url_for("offers.booking", booking_id=booking.id))


def _booking(booking_id: int) -> Booking:
    booking = get_or_404(db.session, Booking, booking_id)
    if not services.can_see_booking(booking, current_user):
        abort(404)  # whose code it is stays unknown
    return booking


@bp.get("/bookings/mine")
@role_required(Role.CASEWORKER, Role.RECIPIENT)
def my_bookings() -> str:
    recipient = services.recipient_of(db.session, current_user)
    return render_template(
        "offers/bookings.html",
        bookings=services.bookings_of(db.session, current_user),
        recipient=recipient,
        unverified_left=(
            current_app.config["OFFER_UNVERIFIED_PICKUPS"] - recipient.unverified_used
            if recipient is not None and not recipient.is_linked
            else None
        ),
        window_text=services.window_text,
        what_text=services.what_text,
    )


@bp.get("/bookings/<int:booking_id>")
@role_required(Role.CASEWORKER, Role.RECIPIENT)
def booking(booking_id: int) -> str:
    found = _booking(booking_id)
    return render_template(
        "offers/booking.html",
        booking=found,
        window_text=services.window_text,
        what_text=services.what_text,
    )


@bp.get("/bookings/<int:booking_id>/qr.svg")
@role_required(Role.CASEWORKER, Role.RECIPIENT)
def booking_qr(booking_id: int) -> Response:
    found = _booking(booking_id)
    # The QR holds only the provider's check page with the code: nothing about the person.
    target = url_for("offers.provider_check", code=found.code, _external=True)
    buffer = io.BytesIO()
    segno.make(target, error="m").save(buffer, kind="svg", scale=6, border=2)
    response = Response(buffer.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/bookings/<int:booking_id>/cancel")
@role_required(Role.CASEWORKER, Role.RECIPIENT)
def cancel(booking_id: int) -> WerkzeugResponse:
    found = _booking(booking_id)
    services.cancel_booking(db.session, found, current_user)
    flash(_("The booking is cancelled; the portion is free for someone else."), "info")
    return redirect(url_for("offers.my_bookings"))


# --- people in hardship join ------------------------------------------------------------------


@bp.route("/offers/join", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def join() -> str | WerkzeugResponse:
    if current_user.is_authenticated:
        return redirect(url_for("offers.list_offers"))
    form = JoinForm()
    form.district_code.choices = district_choices()
    if form.validate_on_submit():
        try:
            user = services.register_recipient(
                db.session,
                form.email.data or "",
                form.password.data or "",
                form.display_name.data or "",
                form.phone.data or "",
                form.district_code.data or "",
            )
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            login_user(user)
            flash(
                _(
                    "Welcome. You can book %(n)s pickups now; ask your caseworker to link "
                    "your account to your household for more.",
                    n=current_app.config["OFFER_UNVERIFIED_PICKUPS"],
                ),
                "info",
            )
            return redirect(url_for("offers.list_offers"))
    status = 422 if form.errors else 200
    return render_template("offers/join.html", form=form), status  # type: ignore[return-value]


# --- the provider ----------------------------------------------------------------------------


PROVIDERS = (Role.COMPANY, Role.TEAM)


@bp.route("/organisation/offers", methods=["GET", "POST"])
@role_required(*PROVIDERS)
def manage() -> str | WerkzeugResponse:
    organisation = current_user.organisation
    if organisation is None:
        abort(403)
    permit = services.permit_of(db.session, organisation)
    form = PermitForm(obj=permit)
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.save_permit(
                db.session,
                current_user,
                form.licence_expires_on.data,
                form.hygiene_expires_on.data,
            )
        except ValidationFailed as error:
            db.session.rollback()
            apply_service_errors(form, error)
        else:
            flash(_("Saved. An admin will check the dates."), "info")
            return redirect(url_for("offers.manage"))
    mine = services.offers_of(db.session, organisation)
    status = 422 if form.errors else 200
    return render_template(  # type: ignore[return-value]
        "offers/manage.html",
        organisation=organisation,
        offers=mine,
        uptake=services.uptake(db.session, mine),
        permit=permit,
        permit_form=form,
        today=local_today(),
        can_post=services.can_post_offers(current_user),
        is_admin=current_user.is_org_admin(organisation),
    ), status


@bp.route("/organisation/offers/new", methods=["GET", "POST"])
@role_required(*PROVIDERS)
def new_offer() -> str | WerkzeugResponse:
    if not services.can_post_offers(current_user):
        abort(403)
    form = OfferForm()
    form.district_code.choices = district_choices()
    if request.method == "GET":
        form.district_code.data = current_user.organisation.district_code
    if form.validate_on_submit():
        data = services.OfferData(
            kind=OfferKind(form.kind.data),
            title=form.title.data or "",
            description=form.description.data or "",
            district_code=form.district_code.data or "",
            place=form.place.data or "",
            lat=form.lat.data,
            lng=form.lng.data,
            weekdays="".join(form.weekdays.data or []),
            window_start=form.window_start.data,
            window_end=form.window_end.data,
            portions_per_window=form.portions_per_window.data,
            item=form.item.data or "",
            quantity=form.quantity.data,
            unit=form.unit.data or "",
            expires_on=form.expires_on.data,
            service_date=form.service_date.data,
            slot_minutes=form.slot_minutes.data,
            slot_count=form.slot_count.data,
            places_per_slot=form.places_per_slot.data,
        )
        try:
            offer = services.post_offer(db.session, current_user, data)
        except (ValidationFailed, NotAllowed) as error:
            db.session.rollback()
            if isinstance(error, ValidationFailed):
                apply_service_errors(form, error)
            else:
                form.form_errors.append(str(error.message))
        else:
            flash(_("Your offer is open for booking."), "info")
            return redirect(url_for("offers.detail", offer_id=offer.id))
    status = 422 if (form.errors or form.form_errors) else 200
    return render_template("offers/form.html", form=form), status  # type: ignore[return-value]


@bp.post("/offers/<int:offer_id>/<any(pause, resume, end):action>")
@role_required(*PROVIDERS, Role.ADMIN)
def change(offer_id: int, action: str) -> WerkzeugResponse:
    offer = _offer(offer_id)
    services.change_offer(db.session, offer, current_user, action)
    flash(_("Done."), "info")
    if current_user.has_role(Role.ADMIN):
        return redirect(url_for("offers.detail", offer_id=offer.id))
    return redirect(url_for("offers.manage"))


@bp.route("/provider/check", methods=["GET", "POST"])
@role_required(*PROVIDERS)
@limiter.limit("60 per minute")
def provider_check() -> str | tuple[str, int]:
    """The provider's phone page: type or scan a code, see only what it is good for, and
    mark it used."""
    form = CodeForm()
    if request.method == "GET" and request.args.get("code"):
        form.code.data = request.args["code"][:20]
    result = None
    error = None
    status = 200
    code = (form.code.data or "").strip()
    if code:
        try:
            if request.method == "POST" and request.form.get("action") == "redeem":
                if not form.validate_on_submit():
                    raise ValidationFailed(_("Please correct the marked fields."), form.errors)
                result = services.redeem_code(db.session, current_user, code)
            else:
                result = services.check_code(db.session, current_user, code)
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
            status = exc.status
    return render_template(
        "offers/check.html", form=form, result=result, error=error, code=code.upper()
    ), status


# --- caseworkers link people to households ---------------------------------------------------


@bp.route("/work/recipients", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def link() -> str | tuple[str, int] | WerkzeugResponse:
    form = LinkForm()
    households = _households_for(current_user)
    form.household_id.choices = [("", _("Choose a household"))] + [
        (str(h.id), f"#{h.id} {h.name}") for h in households
    ]
    if form.validate_on_submit():
        household = db.session.get(Household, int(form.household_id.data))
        if household is None:
            abort(404)
        try:
            services.link_recipient(db.session, current_user, form.phone.data or "", household)
        except ValidationFailed as error:
            db.session.rollback()
            apply_service_errors(form, error)
        else:
            flash(_("Linked. Their bookings now count for the household."), "info")
            return redirect(url_for("offers.link"))
    status = 422 if form.errors else 200
    return render_template(
        "offers/link.html",
        form=form,
        linked=services.recipients_linked_by_area(db.session, current_user),
        unlinked=services.unlinked_in_area(db.session, current_user),
    ), status


# --- admin: permits --------------------------------------------------------------------------


@bp.get("/admin/permits")
@role_required(Role.ADMIN)
def permits() -> str:
    return render_template(
        "offers/permits.html",
        permits=services.permits_due_for_review(db.session),
        today=local_today(),
    )


@bp.post("/admin/permits/<int:permit_id>/review")
@role_required(Role.ADMIN)
def review_permit(permit_id: int) -> WerkzeugResponse:
    permit = get_or_404(db.session, ProviderPermit, permit_id)
    resumed = services.review_permit(db.session, permit, current_user)
    flash(_("Checked. %(n)s paused offers resumed.", n=resumed), "info")
    return redirect(url_for("offers.permits"))


# --- the resource pool (caseworkers; the station hands out) -----------------------------------


@bp.route("/work/pool", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def pool() -> str | tuple[str, int] | WerkzeugResponse:
    """The district's resource pool: what is left, reserve for a household, hand out
    against a code, set until when goods keep."""
    status = 200
    action = request.form.get("action", "")
    if request.method == "POST":
        try:
            if action == "reserve":
                donation = _pool_donation(request.form.get("donation_id", type=int))
                household_id = request.form.get("household_id", type=int)
                household = (
                    db.session.get(Household, household_id)
                    if household_id and 0 < household_id < 2**31
                    else None
                )
                quantity = request.form.get("quantity", type=int)
                if household is None or quantity is None:
                    raise ValidationFailed(
                        _("Please correct the marked fields."),
                        {"household_id": [_("Choose a household and how many.")]},
                    )
                reservation = pool_services.reserve(
                    db.session, current_user, donation, household, quantity
                )
                flash(_("Reserved. The pickup code is %(code)s.", code=reservation.code), "info")
            elif action == "hand_out":
                reservation = pool_services.hand_out(
                    db.session, current_user, request.form.get("code", "")
                )
                flash(
                    _(
                        "Handed out: %(n)s × %(item)s.",
                        n=reservation.quantity,
                        item=reservation.donation.item,
                    ),
                    "info",
                )
            elif action == "expiry":
                donation = _pool_donation(request.form.get("donation_id", type=int))
                raw = request.form.get("expires_on", "")
                try:
                    keeps = date.fromisoformat(raw) if raw else None
                except ValueError:
                    raise ValidationFailed(
                        _("Please correct the marked fields."), {"expires_on": [_("Give a date.")]}
                    ) from None
                pool_services.set_expiry(db.session, current_user, donation, keeps)
                flash(_("Saved."), "info")
            elif action == "cancel":
                reservation_id = request.form.get("reservation_id", type=int)
                found = (
                    db.session.get(PoolReservation, reservation_id)
                    if reservation_id and 0 < reservation_id < 2**31
                    else None
                )
                if found is None:
                    abort(404)
                pool_services.cancel_reservation(db.session, current_user, found)
                flash(_("Cancelled; the goods are back in the pool."), "info")
            else:
                abort(400)
        except DomainError as error:
            db.session.rollback()
            flash(str(error.message), "error")
            status = error.status
        else:
            return redirect(url_for("offers.pool"))
    return render_template(
        "offers/pool.html",
        items=pool_services.pool_items(db.session, current_user),
        reservations=pool_services.reservations_of_area(db.session, current_user),
        households=_households_for(current_user),
        today=local_today(),
    ), status


def _pool_donation(donation_id: int | None) -> Donation:
    donation = (
        db.session.get(Donation, donation_id) if donation_id and 0 < donation_id < 2**31 else None
    )
    if donation is None:
        abort(404)
    return donation
