"""What the public sees of needs: the list with search, filters and the map, and a
need's page with the ways to help (claim, sign a team up, give money).

The blueprint keeps the name ``needs`` (its URLs are ``/needs/...``); it lives here rather
than in ``app.needs`` because the page gathers what claims, shifts and payments offer."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import search_index
from app.accounts.models import OrgKind
from app.claims import services as claim_services
from app.claims.forms import ClaimForm
from app.core.replica import replica_reads
from app.extensions import db
from app.forms import city_choices, district_choices
from app.labels import choices
from app.needs import services
from app.needs.models import (
    PUBLIC_STATES,
    CareCategory,
    Need,
    NeedKind,
    NeedState,
)
from app.payments import services as payments
from app.places import gazetteer
from app.shifts import services as shift_services
from search import DEFAULT_RADIUS_KM, MAX_RADIUS_KM, Point, SearchQuery, Sort

public_bp = Blueprint("needs", __name__)


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
@replica_reads
def list_needs() -> str:
    """Browse or search the public needs: words, filters, near a place, on a map."""
    filters = parse_filters()
    query, form = _search_from_request(filters)
    page = search_index.search_needs(db.session, query)
    return render_template(
        "browse/list.html",
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
        map_subdomains=current_app.config["MAP_TILE_SUBDOMAINS"],
        map_coords="gcj02" if current_app.config["MAP_TILE_COORDS"] == "gcj02" else "wgs84",
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
@replica_reads
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
        "browse/detail.html",
        need=need,
        claim_form=ClaimForm(),
        claimable=current_user.is_authenticated
        and claim_services.claim_refusal(db.session, need, current_user) is None,
        shifts=shift_services.shifts_of(db.session, need)
        if need.kind is NeedKind.FARM_HELP
        else [],
        team_members=shift_services.team_members(db.session, organisation)
        if leads_team and organisation is not None
        else [],
        funding=payments.progress(db.session, need) if payments.goal_minor(need) else None,
        takes_cash=payments.can_take_cash(db.session, need),
        cash_enabled=payments.enabled(),
    )
