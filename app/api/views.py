"""/api/v1: public needs, tokens, claims, shifts, donations, points; the OpenAPI document.

Every response is JSON, errors included (``app.errors`` maps them). Clients authenticate
with ``Authorization: Bearer <token>``, the token coming from ``POST /auth/token`` or
being a company's long-lived API key.

Adding an endpoint is one declaration next to the view, and the OpenAPI document at
/api/v1/openapi.json follows from it (``app/api/openapi.py``)::

    @bp.post("/claims/<int:claim_id>/withdraw")
    @token_required                       # documented as bearer-secured, answers 401
    @operation(
        "Withdraw my claim",              # the summary
        body=ReasonSchema,                # loaded and passed as ``body`` (400/422 documented)
        returns=ClaimSchema,              # the answer (status=200 unless said)
        errors={403: "...", 404: "...", 409: "The claim is not live"},
    )
    def withdraw_claim(claim_id: int, body: dict[str, Any]) -> Response: ...

``query=Schema`` loads ``request.args`` into ``args`` the same way. Path parameters come
from the URL rule. Schemas live in ``app/api/schemas.py`` and become components named after
them (``ClaimSchema`` -> ``Claim``). A route without a declaration is not in the document,
and ``tests/test_api.py`` fails for it; schemathesis (``tests/test_api_schema.py``) then
checks the endpoint against what it declares.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _

from app import search_index
from app.accounts import services as accounts
from app.accounts.models import User
from app.api.openapi import SECURED, build_openapi, load, operation
from app.api.schemas import (
    CheckCodeSchema,
    ClaimListSchema,
    ClaimRequestSchema,
    ClaimSchema,
    ConfirmSchema,
    DeliverySchema,
    DonationRequestSchema,
    DonationSchema,
    LeaderboardQuerySchema,
    LeaderboardSchema,
    MeSchema,
    NeedListQuerySchema,
    NeedPageSchema,
    NeedSchema,
    PointsSchema,
    ReasonSchema,
    RedemptionSchema,
    RewardListSchema,
    SignupListSchema,
    SignupRequestSchema,
    SignupSchema,
    TokenRequestSchema,
    TokenSchema,
    point_and_order_parameter,
)
from app.claims import services as claim_services
from app.claims.models import Claim, DeliveryMethod
from app.core.replica import replica_reads
from app.donations import services as donation_services
from app.errors import NotFound, ValidationFailed, get_or_404
from app.extensions import db, limiter
from app.needs import services as needs
from app.points import boards
from app.points import services as points_services
from app.points.models import Reward
from app.shifts import services as shift_services
from app.shifts.models import Shift
from search import Point, QueryError, SearchQuery, Sort

bp = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.user_for_bearer(db.session, token.strip())


def token_required(view: F) -> F:
    """The view needs a bearer token (401 without one); the document says so."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = _bearer_user()
        if user is None:
            response = jsonify({"message": _("A valid bearer token is required."), "errors": {}})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        g.api_user = user
        return view(*args, **kwargs)

    setattr(wrapped, SECURED, True)
    return wrapped  # type: ignore[return-value]


_NO_SUCH = {403: "Not allowed for this account", 404: "No such need, claim or shift"}


@bp.get("/needs")
@replica_reads
@operation(
    "Search and list verified needs",
    description="With `q` or a point (`lat`, `lng`) this is a search: it finds open "
    "(published) needs unless `status` names another public state. Without either it lists "
    "every verified need, open ones first. Distances are geodesic km to each need's public, "
    "approximate location.",
    returns=NeedPageSchema,
    errors={422: "Invalid filter"},
    parameters=[
        {"in": "query", "schema": NeedListQuerySchema(exclude=("lat", "lng", "radius_km", "sort"))},
        point_and_order_parameter(),
    ],
)
def list_needs() -> Response:
    """Search or browse public needs: words, filters, a point and radius, facets."""
    args = load(NeedListQuerySchema, request.args.to_dict())
    point = Point(args["lat"], args["lng"]) if "lat" in args else None
    try:
        query = SearchQuery(
            text=args.get("q", ""),
            kind=args.get("kind"),
            category=args.get("category"),
            city=args.get("city"),
            district=args.get("district"),
            states=frozenset({args["status"]}) if "status" in args else None,
            near=point,
            radius_km=args.get("radius_km"),
            sort=Sort(args["sort"]) if "sort" in args else None,
            page=args["page"],
            per_page=args["per_page"],
        )
    except QueryError as exc:  # the schema checks the same rules; this is a backstop
        errors = {exc.field: [exc.message]}
        raise ValidationFailed(_("Some fields are not valid."), errors) from None
    page = search_index.search_needs(db.session, query)
    return jsonify(NeedPageSchema().dump(page))


@bp.get("/needs/<int:need_id>")
@replica_reads
@operation("One verified need", returns=NeedSchema, errors={404: "No public need with this id"})
def get_need(need_id: int) -> Response:
    need = needs.get_public_need(db.session, need_id)
    if need is None:
        raise NotFound(_("No public need has this id."))
    return jsonify(NeedSchema().dump(need))


def _token_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.post("/auth/token")
@limiter.limit(_token_limit)
@operation(
    "Exchange email and password for a bearer token",
    body=TokenRequestSchema,
    returns=TokenSchema,
    status=201,
    errors={403: "Wrong email or password", 429: "Too many attempts"},
)
def create_token(body: dict[str, Any]) -> tuple[Response, int]:
    user = accounts.authenticate(db.session, body["email"], body["password"])
    return jsonify(
        {
            "token": accounts.issue_token(user),
            "token_type": "Bearer",
            "expires_in": current_app.config["API_TOKEN_MAX_AGE_SECONDS"],
        }
    ), 201


@bp.get("/me")
@token_required
@operation("The account behind the token", returns=MeSchema)
def me() -> Response:
    return jsonify(MeSchema().dump(g.api_user))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_openapi(current_app))


@bp.errorhandler(401)
def _unauthorised(_exc: Exception) -> tuple[Response, int]:
    return jsonify({"message": _("A valid bearer token is required."), "errors": {}}), 401


# --- claims and fulfilment -------------------------------------------------------------


def _claim_for(claim_id: int) -> Claim:
    return get_or_404(db.session, Claim, claim_id)


@bp.post("/needs/<int:need_id>/claims")
@token_required
@operation(
    "Claim a micro-wish or a repair",
    body=ClaimRequestSchema,
    returns=ClaimSchema,
    status=201,
    errors={**_NO_SUCH, 409: "No longer claimable (taken, not open, or farm help)"},
)
def create_claim(need_id: int, body: dict[str, Any]) -> tuple[Response, int]:
    need = needs.get_public_need(db.session, need_id)
    if need is None:
        raise NotFound(_("No public need has this id."))
    claim = claim_services.claim_need(
        db.session,
        need,
        g.api_user,
        DeliveryMethod(body["method"]),
        plan=body["plan"],
        plan_cost_yuan=body["plan_cost_yuan"],
    )
    return jsonify(ClaimSchema().dump(claim)), 201


@bp.get("/me/claims")
@token_required
@operation("My claims (and my organisation's, for its admins)", returns=ClaimListSchema)
def my_claims() -> Response:
    return jsonify(
        ClaimListSchema().dump({"items": claim_services.claims_of(db.session, g.api_user)})
    )


@bp.post("/claims/<int:claim_id>/withdraw")
@token_required
@operation(
    "Withdraw my claim",
    body=ReasonSchema,
    returns=ClaimSchema,
    errors={**_NO_SUCH, 409: "The claim is not live"},
)
def withdraw_claim(claim_id: int, body: dict[str, Any]) -> Response:
    claim = _claim_for(claim_id)
    claim_services.withdraw_claim(db.session, claim, g.api_user, body["reason"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/claims/<int:claim_id>/delivery")
@token_required
@operation(
    "Mark my claim delivered",
    body=DeliverySchema,
    returns=ClaimSchema,
    errors={**_NO_SUCH, 409: "Not accepted yet, or not live"},
)
def deliver_claim(claim_id: int, body: dict[str, Any]) -> Response:
    claim = _claim_for(claim_id)
    claim_services.mark_delivered(db.session, claim, g.api_user, body["note"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/claims/<int:claim_id>/confirm")
@token_required
@operation(
    "Confirm a delivery (caseworker)",
    body=ConfirmSchema,
    returns=ClaimSchema,
    errors={**_NO_SUCH, 409: "Not delivered, or waiting for a spot inspection"},
)
def confirm_claim(claim_id: int, body: dict[str, Any]) -> Response:
    claim = _claim_for(claim_id)
    claim_services.confirm_delivery(db.session, claim, g.api_user, body["follow_up_days"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/claims/<int:claim_id>/dispute")
@token_required
@operation(
    "Dispute a delivery (caseworker)",
    body=ReasonSchema,
    returns=ClaimSchema,
    errors={**_NO_SUCH, 409: "Not delivered"},
)
def dispute_claim(claim_id: int, body: dict[str, Any]) -> Response:
    claim = _claim_for(claim_id)
    claim_services.dispute_delivery(db.session, claim, g.api_user, body["reason"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/shifts/<int:shift_id>/signups")
@token_required
@operation(
    "Sign team members up for a shift (team leader)",
    body=SignupRequestSchema,
    returns=SignupListSchema,
    status=201,
    errors={**_NO_SUCH, 409: "Not enough places left, or already signed up"},
)
def create_signups(shift_id: int, body: dict[str, Any]) -> tuple[Response, int]:
    shift = get_or_404(db.session, Shift, shift_id)
    signups = shift_services.sign_up(db.session, shift, g.api_user, body["member_ids"])
    return jsonify(SignupListSchema().dump({"items": signups})), 201


@bp.post("/shifts/<int:shift_id>/checkin")
@token_required
@operation(
    "Check in to a shift with its code",
    body=CheckCodeSchema,
    returns=SignupSchema,
    errors={**_NO_SUCH, 409: "Not the day of the shift, or already checked in"},
)
def shift_checkin(shift_id: int, body: dict[str, Any]) -> Response:
    shift = get_or_404(db.session, Shift, shift_id)
    return jsonify(
        SignupSchema().dump(shift_services.check_in(db.session, shift, g.api_user, body["code"]))
    )


@bp.post("/shifts/<int:shift_id>/checkout")
@token_required
@operation(
    "Check out of a shift with its code",
    body=CheckCodeSchema,
    returns=SignupSchema,
    errors={**_NO_SUCH, 409: "Not checked in, or already checked out"},
)
def shift_checkout(shift_id: int, body: dict[str, Any]) -> Response:
    shift = get_or_404(db.session, Shift, shift_id)
    return jsonify(
        SignupSchema().dump(shift_services.check_out(db.session, shift, g.api_user, body["code"]))
    )


@bp.post("/donations")
@token_required
@operation(
    "Log a donation in kind (company; an API key works)",
    body=DonationRequestSchema,
    returns=DonationSchema,
    status=201,
    also={200: ("Already logged (same external_ref)", DonationSchema)},
    errors=_NO_SUCH,
)
def log_donation(body: dict[str, Any]) -> tuple[Response, int]:
    """Log a donation in kind; the same ``external_ref`` twice returns the first (200)."""
    logged = donation_services.log_donation(
        db.session, g.api_user, donation_services.DonationData(**body)
    )
    return jsonify(DonationSchema().dump(logged.donation)), 201 if logged.created else 200


# --- points ----------------------------------------------------------------------------


@bp.get("/me/points")
@token_required
@operation("My points balance and ledger (my organisation's, for its admins)", returns=PointsSchema)
def my_points() -> Response:
    owner = points_services.Owner.of(g.api_user)
    return jsonify(
        PointsSchema().dump(
            {
                "balance": points_services.balance(db.session, owner),
                "entries": points_services.entries(db.session, owner),
            }
        )
    )


@bp.get("/leaderboards")
@replica_reads
@operation(
    "Points for confirmed help, ranked", query=LeaderboardQuerySchema, returns=LeaderboardSchema
)
def leaderboards(args: dict[str, Any]) -> Response:
    board = boards.Board(args["board"])
    standings = boards.leaderboard(
        db.session, board, args["period"], args["district"] or args["city"] or None, args["limit"]
    )
    return jsonify(
        LeaderboardSchema().dump(
            {"board": board.value, "period": args["period"], "items": standings}
        )
    )


@bp.get("/rewards")
@replica_reads
@operation("Rewards in the points shop", returns=RewardListSchema)
def list_rewards() -> Response:
    return jsonify(RewardListSchema().dump({"items": points_services.rewards(db.session)}))


@bp.post("/rewards/<int:reward_id>/redemptions")
@token_required
@operation(
    "Redeem a reward with points",
    returns=RedemptionSchema,
    status=201,
    errors={404: "No such reward", 409: "Out of stock, withdrawn, or not enough points"},
)
def redeem_reward(reward_id: int) -> tuple[Response, int]:
    reward = get_or_404(db.session, Reward, reward_id)
    redemption = points_services.redeem(db.session, reward, g.api_user)
    return jsonify(RedemptionSchema().dump(redemption)), 201
