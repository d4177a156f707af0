"""marshmallow schemas: the shape of the JSON API, and nothing else.

Only public fields are listed; a schema is an allow-list, so a household column added
later can never leak through ``dump``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_dump,
    validate,
    validates_schema,
)

from app.claims.models import ClaimStatus, DeliveryMethod
from app.labels import label
from app.localtime import LocalDateTime
from app.needs.models import PUBLIC_STATES, CareCategory, Need, NeedKind, NeedState, Urgency
from app.places import gazetteer


def _enum_values(enum_cls: Any, only: Any = None) -> list[str]:
    return [m.value for m in enum_cls if only is None or m in only]


_PLACE = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
    "required": ["code", "name"],
}


class NeedSchema(Schema):
    """A need as the public sees it."""

    id = fields.Integer(required=True)
    kind = fields.String(
        attribute="kind.value", required=True, validate=validate.OneOf(_enum_values(NeedKind))
    )
    kind_label = fields.Function(
        lambda n: label(n.kind), required=True, metadata={"type": "string"}
    )
    title = fields.String(required=True)
    story = fields.String(required=True)
    category = fields.String(
        attribute="category.value",
        required=True,
        validate=validate.OneOf(_enum_values(CareCategory)),
    )
    status = fields.String(
        attribute="state.value",
        required=True,
        validate=validate.OneOf(_enum_values(NeedState, PUBLIC_STATES)),
    )
    urgency = fields.String(
        attribute="urgency.value", required=True, validate=validate.OneOf(_enum_values(Urgency))
    )
    deadline = fields.Date(allow_none=True, required=True)
    district = fields.Method("_district", required=True, metadata=_PLACE)
    city = fields.Method("_city", required=True, metadata=_PLACE)
    location = fields.Method(
        "_location",
        required=True,
        metadata={
            "type": "object",
            "description": "The public, approximate location (a grid-cell centre), WGS-84.",
            "properties": {
                "lat": {"type": "number"},
                "lng": {"type": "number"},
                "approximate": {"type": "boolean"},
            },
            "required": ["lat", "lng", "approximate"],
        },
    )
    published_at = LocalDateTime(allow_none=True, required=True)
    details = fields.Method(
        "_details",
        required=True,
        metadata={
            "type": "object",
            "description": "The kind's own public fields (item/quantity/value, task/window/"
            "volunteers/hours, or repair category/skills/cost).",
        },
    )

    def _district(self, need: Need) -> dict[str, str]:
        place = need.district
        return {"code": need.district_code, "name": place.name(_locale()) if place else ""}

    def _city(self, need: Need) -> dict[str, str]:
        city = need.city
        return {"code": city.code, "name": city.name(_locale())}

    def _location(self, need: Need) -> dict[str, Any]:
        return {"lat": need.approx_lat, "lng": need.approx_lng, "approximate": True}

    def _details(self, need: Need) -> dict[str, Any]:
        """The kind's own public fields."""
        if need.kind is NeedKind.MICRO_WISH:
            return {
                "item": need.item,
                "quantity": need.quantity,
                "estimated_value_yuan": need.estimated_value_yuan,
            }
        if need.kind is NeedKind.FARM_HELP:
            return {
                "task": need.task,
                "window_start": need.window_start.isoformat() if need.window_start else None,
                "window_end": need.window_end.isoformat() if need.window_end else None,
                "volunteers_needed": need.volunteers_needed,
                "hours_per_volunteer": need.hours_per_volunteer,
            }
        return {
            "repair_category": need.repair_category.value if need.repair_category else None,
            "skills_required": [s.value for s in need.skills],
            "estimated_cost_yuan": need.estimated_cost_yuan,
        }


def _locale() -> str:
    return str(get_locale() or "zh")


# A point to search around: Guangdong and the 500 km around it (the largest radius).
POINT_LAT = (15.0, 30.0)
POINT_LNG = (104.0, 123.0)
SORTS = ["relevance", "distance", "urgency", "newest"]


def point_and_order_parameter() -> dict[str, Any]:
    """``lat``, ``lng``, ``radius_km`` and ``sort`` of ``GET /needs`` documented as one
    exploded query object, because they depend on each other in a way separate parameters
    cannot say: lat and lng come together, and ``radius_km`` and ``sort=distance`` need
    them. (``NeedListQuerySchema`` loads them, with the same rules.)"""
    lat_low, lat_high = POINT_LAT
    lng_low, lng_high = POINT_LNG
    point = {
        "lat": {"type": "number", "minimum": lat_low, "maximum": lat_high},
        "lng": {"type": "number", "minimum": lng_low, "maximum": lng_high},
        "radius_km": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 500,
            "description": "Only needs within this many km (default 50).",
        },
        "sort": {"type": "string", "enum": SORTS},
    }
    no_point_sorts = [s for s in SORTS if s != "distance"]
    return {
        "in": "query",
        "name": "point_and_order",
        "style": "form",
        "explode": True,
        "description": "Sent as the separate query parameters `lat`, `lng`, `radius_km` and "
        "`sort` (relevance with `q`, else distance with a point, else newest).",
        "schema": {
            "type": "object",
            "properties": point,
            "anyOf": [
                {
                    "description": "Without a point",
                    "properties": {"sort": {"type": "string", "enum": no_point_sorts}},
                    "not": {
                        "anyOf": [{"required": [name]} for name in ("lat", "lng", "radius_km")]
                    },
                },
                {"description": "Around a point", "required": ["lat", "lng"]},
            ],
        },
    }


class NeedListQuerySchema(Schema):
    """``GET /needs``. With ``q`` or a point it is a search and finds open (published)
    needs unless ``status`` says otherwise; without either it lists every verified need,
    open ones first."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "Words to find, Chinese or English (Chinese is segmented into "
            "words: 农场, 扶手, 电饭煲). Every word must occur."
        },
    )
    kind = fields.String(validate=validate.OneOf(_enum_values(NeedKind)))
    category = fields.String(validate=validate.OneOf(_enum_values(CareCategory)))
    status = fields.String(validate=validate.OneOf(_enum_values(NeedState, PUBLIC_STATES)))
    city = fields.String(validate=validate.Regexp(r"^44\d{4}$"))
    district = fields.String(validate=validate.Regexp(r"^44\d{4}$"))
    lat = fields.Float(validate=validate.Range(*POINT_LAT))
    lng = fields.Float(validate=validate.Range(*POINT_LNG))
    radius_km = fields.Float(validate=validate.Range(min=0, max=500, min_inclusive=False))
    sort = fields.String(validate=validate.OneOf(SORTS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _point_goes_with(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """lat and lng come together; a radius and sorting by distance need them."""
        if ("lat" in data) != ("lng" in data):
            missing = "lng" if "lat" in data else "lat"
            raise ValidationError({missing: [_("Give both lat and lng (a point), or neither.")]})
        if "lat" in data:
            return
        errors: dict[str, list[str]] = {}
        if "radius_km" in data:
            errors["radius_km"] = [_("A radius needs a point: give lat and lng too.")]
        if data.get("sort") == "distance":
            errors["sort"] = [_("Sorting by distance needs a point: give lat and lng.")]
        if errors:
            raise ValidationError(errors)  # type: ignore[arg-type]


class NeedHitSchema(NeedSchema):
    """A need in a list of results."""

    distance_km = fields.Float(
        metadata={
            "description": "Geodesic km from the point asked about to the need's public, "
            "approximate location; present only when lat and lng were given."
        }
    )

    def __init__(self, *args: Any, distances: dict[int, float] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.distances = distances or {}

    @post_dump(pass_original=True)
    def _distance(self, data: dict[str, Any], need: Need, **_kwargs: Any) -> dict[str, Any]:
        if need.id in self.distances:
            data["distance_km"] = round(self.distances[need.id], 3)
        return data


class FacetCountSchema(Schema):
    value = fields.String(required=True, metadata={"description": "A kind, or a district code"})
    label = fields.String(required=True)
    count = fields.Integer(required=True)


class FacetsSchema(Schema):
    kind = fields.List(fields.Nested(FacetCountSchema), required=True)
    district = fields.List(fields.Nested(FacetCountSchema), required=True)


class NeedPageSchema(Schema):
    """A page of results (``SearchPage``), with counts over all pages by kind and district."""

    items = fields.Method(
        "_items",
        required=True,
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/NeedHit"}},
    )
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    facets = fields.Method(
        "_facets", required=True, metadata={"allOf": [{"$ref": "#/components/schemas/Facets"}]}
    )

    def _items(self, page: Any) -> list[dict[str, Any]]:
        return NeedHitSchema(many=True, distances=page.distances).dump(page.items)  # type: ignore[no-any-return]

    def _facets(self, page: Any) -> dict[str, Any]:
        locale = _locale()
        kinds = [
            {"value": value, "label": str(label(NeedKind(value))), "count": count}
            for value, count in page.facets.kind.items()
        ]
        districts = []
        for code, count in page.facets.district.items():
            place = gazetteer.get(code)
            name = place.name(locale) if place else code
            districts.append({"value": code, "label": name, "count": count})
        return {"kind": kinds, "district": districts}


class TokenRequestSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenSchema(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(attribute="role.value", required=True)
    organisation = fields.Function(
        lambda u: (
            {
                "id": u.organisation.id,
                "name": u.organisation.name,
                "kind": u.organisation.kind.value,
                "verified": u.organisation.is_verified,
            }
            if u.organisation
            else None
        ),
        required=True,
        allow_none=True,
        metadata={"type": "object", "nullable": True},
    )


class ErrorSchema(Schema):
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), required=True)


class ClaimRequestSchema(Schema):
    method = fields.String(
        load_default="handover", validate=validate.OneOf(["handover", "in_person"])
    )
    plan = fields.String(load_default="", validate=validate.Length(max=2000))
    plan_cost_yuan = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=10_000_000)
    )


class ClaimSchema(Schema):
    """A claim as its claimer (and the caseworker) sees it: never the household."""

    id = fields.Integer(required=True)
    need_id = fields.Integer(required=True)
    need_title = fields.String(attribute="need.title", required=True)
    status = fields.String(
        attribute="status.value",
        required=True,
        validate=validate.OneOf([s.value for s in ClaimStatus]),
    )
    method = fields.String(
        attribute="method.value",
        required=True,
        validate=validate.OneOf([m.value for m in DeliveryMethod]),
    )
    handover_code = fields.String(required=True)
    due_at = LocalDateTime(required=True)
    accepted = fields.Boolean(attribute="is_accepted", required=True)
    inspection_required = fields.Boolean(required=True)
    created_at = LocalDateTime(required=True)


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class DeliverySchema(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class ConfirmSchema(Schema):
    follow_up_days = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=365)
    )


class SignupRequestSchema(Schema):
    member_ids = fields.List(
        fields.Integer(), required=True, validate=validate.Length(min=1, max=500)
    )


class SignupSchema(Schema):
    id = fields.Integer(required=True)
    shift_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    status = fields.String(attribute="status.value", required=True)
    checked_in_at = LocalDateTime(allow_none=True, required=True)
    checked_out_at = LocalDateTime(allow_none=True, required=True)
    hours_worked = fields.Float(required=True)


class SignupListSchema(Schema):
    items = fields.List(fields.Nested(SignupSchema), required=True)


class CheckCodeSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=8))


class DonationRequestSchema(Schema):
    item = fields.String(required=True, validate=validate.Length(min=1, max=120))
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=100_000)
    )
    value_yuan = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=10_000_000)
    )
    need_id = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
    )
    district_code = fields.String(load_default="", validate=validate.Length(max=6))
    note = fields.String(load_default="", validate=validate.Length(max=500))
    external_ref = fields.String(load_default="", validate=validate.Length(max=64))


class DonationSchema(Schema):
    id = fields.Integer(required=True)
    need_id = fields.Integer(allow_none=True, required=True)
    district_code = fields.String(required=True)
    item = fields.String(required=True)
    quantity = fields.Integer(required=True)
    value_yuan = fields.Integer(required=True)
    external_ref = fields.String(allow_none=True, required=True)
    status = fields.String(attribute="status.value", required=True)
    created_at = LocalDateTime(required=True)


class ClaimListSchema(Schema):
    items = fields.List(fields.Nested(ClaimSchema), required=True)


class PointsEntrySchema(Schema):
    id = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    kind = fields.String(attribute="kind.value", required=True)
    rule = fields.String(required=True)
    reason = fields.String(required=True)
    need_id = fields.Integer(allow_none=True, required=True)
    created_at = LocalDateTime(required=True)


class PointsSchema(Schema):
    balance = fields.Integer(required=True)
    entries = fields.List(fields.Nested(PointsEntrySchema), required=True)


class LeaderboardQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    board = fields.String(
        load_default="companies", validate=validate.OneOf(["companies", "teams", "people"])
    )
    period = fields.String(load_default="all", validate=validate.OneOf(["month", "year", "all"]))
    district = fields.String(load_default="", validate=validate.Regexp(r"^(44\d{4})?$"))
    city = fields.String(load_default="", validate=validate.Regexp(r"^(44\d{4})?$"))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class StandingSchema(Schema):
    rank = fields.Integer(required=True)
    owner_id = fields.Integer(required=True)
    name = fields.String(required=True)
    points = fields.Integer(required=True)


class LeaderboardSchema(Schema):
    board = fields.String(required=True)
    period = fields.String(required=True)
    items = fields.List(fields.Nested(StandingSchema), required=True)


class RewardSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.Function(lambda r: r.name(_locale()), required=True, metadata={"type": "string"})
    description = fields.String(required=True)
    price_points = fields.Integer(required=True)
    stock = fields.Integer(required=True)


class RewardListSchema(Schema):
    items = fields.List(fields.Nested(RewardSchema), required=True)


class RedemptionSchema(Schema):
    id = fields.Integer(required=True)
    reward_id = fields.Integer(required=True)
    points = fields.Integer(required=True)
    code = fields.String(required=True)
    status = fields.String(attribute="status.value", required=True)
    created_at = LocalDateTime(required=True)
