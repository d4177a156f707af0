"""/api/v1 for offers: list and search, book, and the provider's check and redeem.

The routes join the API blueprint (``app.api.views.bp``) and are declared with
``@operation``, so the OpenAPI document and schemathesis cover them.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify
from flask_babel import gettext as _

from app.accounts.models import Role
from app.api.openapi import operation
from app.api.views import bp, token_required
from app.errors import NotAllowed, NotFound
from app.extensions import db
from app.needs.models import Household
from app.offers import pool, services
from app.offers.models import Offer, OfferKind, OfferSlot
from app.offers.schemas import (
    BookingRequestSchema,
    BookingSchema,
    OfferListQuerySchema,
    OfferPageSchema,
    OfferSchema,
    PickupSchema,
    PoolSchema,
)
from app.places import gazetteer


@bp.get("/offers")
@operation(
    "Search and list offers taking bookings",
    description="Meals, goods and service slots of verified organisations, by words (title, "
    "item, place, provider), kind and place (a city or a district code). Each offer lists "
    "its windows still ahead, with what is left.",
    query=OfferListQuerySchema,
    returns=OfferPageSchema,
)
def list_offers(args: dict[str, Any]) -> Response:
    city = args.get("city")
    district = args.get("district")
    filters = services.OfferFilters(
        kind=OfferKind(args["kind"]) if "kind" in args else None,
        city=city if city and any(c.code == city for c in gazetteer.cities()) else None,
        district=district if district and gazetteer.is_district(district) else None,
        q=args.get("q", ""),
    )
    if (city and filters.city is None) or (district and filters.district is None):
        found: list[Offer] = []
        total = 0  # a code that is no city/district of Guangdong matches nothing
    else:
        per_page = args["per_page"]
        found, total = services.search_offers(
            db.session, filters, per_page, (args["page"] - 1) * per_page
        )
    slots = services.open_slots(db.session, found)
    return jsonify(
        {
            "items": OfferSchema(many=True, slots=slots).dump(found),
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }
    )


@bp.get("/offers/<int:offer_id>")
@operation("One offer", returns=OfferSchema, errors={404: "No offer with this id"})
def get_offer(offer_id: int) -> Response:
    offer = db.session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(_("Not found."))
    slots = services.open_slots(db.session, [offer])
    return jsonify(OfferSchema(slots=slots).dump(offer))


@bp.post("/offers/<int:offer_id>/bookings")
@token_required
@operation(
    "Book one portion (a caseworker for a household of their area, or a registered person "
    "in hardship for themselves)",
    description="Answers the pickup code. A person not yet linked to a household by a "
    "caseworker may book a few pickups without proof; then 403 until linked.",
    body=BookingRequestSchema,
    returns=BookingSchema,
    status=201,
    errors={
        403: "Not allowed for this account, or the pickups without proof are used up",
        404: "No such offer, window or household",
        409: "Nothing left, the window is over, the offer is paused, or a limit is reached",
    },
)
def create_booking(offer_id: int, body: dict[str, Any]) -> tuple[Response, int]:
    user = g.api_user
    if not services.can_book(user):
        raise NotAllowed(_("Only caseworkers and registered people in hardship book offers."))
    offer = db.session.get(Offer, offer_id)
    slot = db.session.get(OfferSlot, body["slot_id"])
    if offer is None or slot is None or slot.offer_id != offer.id:
        raise NotFound(_("Not found."))
    household = None
    if user.has_role(Role.CASEWORKER):
        household = (
            db.session.get(Household, body["household_id"]) if body["household_id"] else None
        )
        if household is None:
            raise NotFound(_("Choose a household of your area."))
    booking = services.book(db.session, user, slot, household)
    return jsonify(BookingSchema().dump(booking)), 201


_PICKUP_ERRORS = {
    403: "Only the provider's staff check pickup codes",
    404: "The code is not valid at this provider",
}


@bp.get("/pickups/<code>")
@token_required
@operation(
    "Check a pickup code (the provider's staff)",
    description="Says only whether the code is good now, for what and when: never who.",
    returns=PickupSchema,
    errors=_PICKUP_ERRORS,
)
def check_pickup(code: str) -> Response:
    result = services.check_code(db.session, g.api_user, code)
    return jsonify(PickupSchema().dump(result))


@bp.post("/pickups/<code>")
@token_required
@operation(
    "Redeem a pickup code (the provider's staff hand the portion over)",
    returns=PickupSchema,
    errors={**_PICKUP_ERRORS, 409: "Already used, cancelled, expired or not yet valid"},
)
def redeem_pickup(code: str) -> Response:
    result = services.redeem_code(db.session, g.api_user, code)
    return jsonify(PickupSchema().dump(result))


@bp.get("/pool")
@token_required
@operation(
    "The resource pool of my area (caseworkers)",
    description="Goods companies gave to the district pool that are left and keep: reserve "
    "them for a household on the site's pool page.",
    returns=PoolSchema,
    errors={403: "Only caseworkers use the resource pool"},
)
def list_pool() -> Response:
    return jsonify(PoolSchema().dump({"items": pool.pool_items(db.session, g.api_user)}))
