"""The OpenAPI 3 document, built from the same marshmallow schemas the views use."""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app import MAX_ROW_ID
from app.api import schemas

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR}


@cache
def build_openapi() -> dict[str, Any]:
    spec = APISpec(
        title="善联 Shanlian API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Verified needs of households in hardship, and how to help. "
            "Household identities are never part of the API."
        },
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Need", schema=schemas.NeedSchema)
    spec.components.schema("NeedHit", schema=schemas.NeedHitSchema)
    spec.components.schema("Facets", schema=schemas.FacetsSchema)
    spec.components.schema("NeedPage", schema=schemas.NeedPageSchema)
    spec.components.schema("TokenRequest", schema=schemas.TokenRequestSchema)
    spec.components.schema("Token", schema=schemas.TokenSchema)
    spec.components.schema("Me", schema=schemas.MeSchema)
    spec.components.schema("Error", schema=schemas.ErrorSchema)

    spec.path(
        path="/needs",
        operations={
            "get": {
                "summary": "Search and list verified needs",
                "description": "With `q` or a point (`lat`, `lng`) this is a search: it "
                "finds open (published) needs unless `status` names another public state. "
                "Without either it lists every verified need, open ones first. Distances "
                "are geodesic km to each need's public, approximate location.",
                "parameters": [
                    {
                        "in": "query",
                        "schema": schemas.NeedListQuerySchema(exclude=_POINT_AND_ORDER),
                    },
                    _point_and_order_parameter(),
                ],
                "responses": {
                    "200": {
                        "description": "A page of needs",
                        "content": {"application/json": {"schema": "NeedPage"}},
                    },
                    "422": _error("Invalid filter"),
                },
            }
        },
    )
    _read(
        spec,
        "/needs/{need_id}",
        "One verified need",
        _json("The need", "Need"),
        parameters=[_id_parameter("need_id")],
        errors={"404": "No public need with this id"},
    )
    spec.path(
        path="/auth/token",
        operations={
            "post": {
                "summary": "Exchange email and password for a bearer token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "TokenRequest"}},
                },
                "responses": {
                    "201": _json("A token", "Token"),
                    "400": _error("Not a JSON object"),
                    "403": _error("Wrong email or password"),
                    "422": _error("Invalid fields"),
                    "429": _error("Too many attempts"),
                },
            }
        },
    )
    for name in (
        "Claim",
        "ClaimRequest",
        "ClaimList",
        "Reason",
        "Delivery",
        "Confirm",
        "SignupRequest",
        "Signup",
        "SignupList",
        "CheckCode",
        "DonationRequest",
        "Donation",
        "PointsEntry",
        "Points",
        "LeaderboardQuery",
        "Standing",
        "Leaderboard",
        "Reward",
        "RewardList",
        "Redemption",
    ):
        spec.components.schema(name, schema=getattr(schemas, f"{name}Schema"))
    _read(spec, "/me", "The account behind the token", _json("The account", "Me"), secured=True)
    _read(
        spec,
        "/me/claims",
        "My claims (and my organisation's, for its admins)",
        _json("Claims", "ClaimList"),
        secured=True,
    )
    _read(
        spec,
        "/me/points",
        "My points balance and ledger (my organisation's, for its admins)",
        _json("Balance and entries", "Points"),
        secured=True,
    )
    _read(
        spec,
        "/leaderboards",
        "Points for confirmed help, ranked",
        _json("The board", "Leaderboard"),
        parameters=[{"in": "query", "schema": schemas.LeaderboardQuerySchema}],
        errors={"422": "Invalid filter"},
    )
    _read(spec, "/rewards", "Rewards in the points shop", _json("Rewards on offer", "RewardList"))
    spec.path(
        path="/rewards/{reward_id}/redemptions",
        operations={
            "post": {
                "summary": "Redeem a reward with points",
                "security": [{"bearer": []}],
                "parameters": [_id_parameter("reward_id")],
                "responses": {
                    "201": _json("The redemption and its code", "Redemption"),
                    "401": _error("No valid token"),
                    "404": _error("No such reward"),
                    "409": _error("Out of stock, withdrawn, or not enough points"),
                },
            }
        },
    )
    for path, summary, request, response, created, conflict in _ACTIONS:
        responses = {
            created: _json("Done", response),
            "400": _error("Not a JSON object"),
            "401": _error("No valid token"),
            "403": _error("Not allowed for this account"),
            "404": _error("No such need, claim or shift"),
            "422": _error("Invalid fields"),
        }
        if conflict:
            responses["409"] = _error(conflict)
        if path == "/donations":
            responses["200"] = _json("Already logged (same external_ref)", response)
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
            "responses": responses,
        }
        if "{" in path:
            operation["parameters"] = [_id_parameter(path.split("{")[1].split("}")[0])]
        spec.path(path=path, operations={"post": operation})
    return spec.to_dict()


_POINT_AND_ORDER = ("lat", "lng", "radius_km", "sort")


def _point_and_order_parameter() -> dict[str, Any]:
    """``lat``, ``lng``, ``radius_km`` and ``sort`` as one exploded query object, because
    they depend on each other in a way separate parameters cannot say: lat and lng come
    together, and ``radius_km`` and ``sort=distance`` need them."""
    lat_low, lat_high = schemas.POINT_LAT
    lng_low, lng_high = schemas.POINT_LNG
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
        "sort": {"type": "string", "enum": schemas.SORTS},
    }
    no_point_sorts = [s for s in schemas.SORTS if s != "distance"]
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


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _id_parameter(name: str) -> dict[str, Any]:
    """A row id in the path: beyond INTEGER there is no row (the app answers 404)."""
    return {
        "in": "path",
        "name": name,
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID},
    }


def _read(
    spec: APISpec,
    path: str,
    summary: str,
    ok: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    secured: bool = False,
    errors: dict[str, str] | None = None,
) -> None:
    """A GET operation: its 200 answer, and the errors it may give."""
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": ok}}
    if parameters:
        operation["parameters"] = parameters
    if secured:
        operation["security"] = [{"bearer": []}]
        operation["responses"]["401"] = _error("Missing or invalid token")
    for status, description in (errors or {}).items():
        operation["responses"][status] = _error(description)
    spec.path(path=path, operations={"get": operation})


# (path, summary, request schema, response schema, success status, 409 meaning)
_ACTIONS = [
    (
        "/needs/{need_id}/claims",
        "Claim a micro-wish or a repair",
        "ClaimRequest",
        "Claim",
        "201",
        "No longer claimable (taken, not open, or farm help)",
    ),
    (
        "/claims/{claim_id}/withdraw",
        "Withdraw my claim",
        "Reason",
        "Claim",
        "200",
        "The claim is not live",
    ),
    (
        "/claims/{claim_id}/delivery",
        "Mark my claim delivered",
        "Delivery",
        "Claim",
        "200",
        "Not accepted yet, or not live",
    ),
    (
        "/claims/{claim_id}/confirm",
        "Confirm a delivery (caseworker)",
        "Confirm",
        "Claim",
        "200",
        "Not delivered, or waiting for a spot inspection",
    ),
    (
        "/claims/{claim_id}/dispute",
        "Dispute a delivery (caseworker)",
        "Reason",
        "Claim",
        "200",
        "Not delivered",
    ),
    (
        "/shifts/{shift_id}/signups",
        "Sign team members up for a shift (team leader)",
        "SignupRequest",
        "SignupList",
        "201",
        "Not enough places left, or already signed up",
    ),
    (
        "/shifts/{shift_id}/checkin",
        "Check in to a shift with its code",
        "CheckCode",
        "Signup",
        "200",
        "Not the day of the shift, or already checked in",
    ),
    (
        "/shifts/{shift_id}/checkout",
        "Check out of a shift with its code",
        "CheckCode",
        "Signup",
        "200",
        "Not checked in, or already checked out",
    ),
    (
        "/donations",
        "Log a donation in kind (company; an API key works)",
        "DonationRequest",
        "Donation",
        "201",
        None,
    ),
]
