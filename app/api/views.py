"""/api/v1: public needs, tokens, and the OpenAPI document.

Every response is JSON, errors included (``app.errors`` maps them). Clients authenticate
with ``Authorization: Bearer <token>``, the token coming from ``POST /auth/token`` or
being a company's long-lived API key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from app import indexing
from app.accounts import services as accounts
from app.accounts.models import User
from app.api.openapi import build_openapi
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
)
from app.claims import donations as donation_services
from app.claims import services as claim_services
from app.claims.models import Claim, DeliveryMethod, Shift
from app.errors import DomainError, NotFound, ValidationFailed, get_or_404
from app.extensions import db, limiter
from app.needs import services as needs
from app.points import boards
from app.points import services as points_services
from app.points.models import Reward
from search import Point, QueryError, SearchQuery, Sort

bp = Blueprint("api", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.user_for_bearer(db.session, token.strip())


def token_required(view: F) -> F:
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

    return wrapped  # type: ignore[return-value]


def _load(schema: Any, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(_("Some fields are not valid."), messages) from None  # type: ignore[arg-type]


def _json_body() -> Any:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DomainError(_("Send a JSON object in the request body."))
    return data


@bp.get("/needs")
def list_needs() -> Response:
    """Search or browse public needs: words, filters, a point and radius, facets."""
    args = _load(NeedListQuerySchema(), request.args.to_dict())
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
    page = indexing.search_needs(db.session, query)
    return jsonify(NeedPageSchema().dump(page))


@bp.get("/needs/<int:need_id>")
def get_need(need_id: int) -> Response:
    need = needs.get_public_need(db.session, need_id)
    if need is None:
        raise NotFound(_("No public need has this id."))
    return jsonify(NeedSchema().dump(need))


def _token_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.post("/auth/token")
@limiter.limit(_token_limit)
def create_token() -> tuple[Response, int]:
    data = _load(TokenRequestSchema(), _json_body())
    user = accounts.authenticate(db.session, data["email"], data["password"])
    return jsonify(
        {
            "token": accounts.issue_token(user),
            "token_type": "Bearer",
            "expires_in": current_app.config["API_TOKEN_MAX_AGE_SECONDS"],
        }
    ), 201


@bp.get("/me")
@token_required
def me() -> Response:
    return jsonify(MeSchema().dump(g.api_user))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_openapi())


@bp.errorhandler(401)
def _unauthorised(_exc: Exception) -> tuple[Response, int]:
    return jsonify({"message": _("A valid bearer token is required."), "errors": {}}), 401


# --- claims and fulfilment -------------------------------------------------------------


def _claim_for(claim_id: int) -> Claim:
    return get_or_404(db.session, Claim, claim_id)


@bp.post("/needs/<int:need_id>/claims")
@token_required
def create_claim(need_id: int) -> tuple[Response, int]:
    data = _load(ClaimRequestSchema(), _json_body())
    need = needs.get_public_need(db.session, need_id)
    if need is None:
        raise NotFound(_("No public need has this id."))
    claim = claim_services.claim_need(
        db.session,
        need,
        g.api_user,
        DeliveryMethod(data["method"]),
        plan=data["plan"],
        plan_cost_yuan=data["plan_cost_yuan"],
    )
    return jsonify(ClaimSchema().dump(claim)), 201


@bp.get("/me/claims")
@token_required
def my_claims() -> Response:
    return jsonify(
        ClaimListSchema().dump({"items": claim_services.claims_of(db.session, g.api_user)})
    )


@bp.post("/claims/<int:claim_id>/withdraw")
@token_required
def withdraw_claim(claim_id: int) -> Response:
    data = _load(ReasonSchema(), _json_body())
    claim = _claim_for(claim_id)
    claim_services.withdraw_claim(db.session, claim, g.api_user, data["reason"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/claims/<int:claim_id>/delivery")
@token_required
def deliver_claim(claim_id: int) -> Response:
    data = _load(DeliverySchema(), _json_body())
    claim = _claim_for(claim_id)
    claim_services.mark_delivered(db.session, claim, g.api_user, data["note"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/claims/<int:claim_id>/confirm")
@token_required
def confirm_claim(claim_id: int) -> Response:
    data = _load(ConfirmSchema(), _json_body())
    claim = _claim_for(claim_id)
    claim_services.confirm_delivery(db.session, claim, g.api_user, data["follow_up_days"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/claims/<int:claim_id>/dispute")
@token_required
def dispute_claim(claim_id: int) -> Response:
    data = _load(ReasonSchema(), _json_body())
    claim = _claim_for(claim_id)
    claim_services.dispute_delivery(db.session, claim, g.api_user, data["reason"])
    return jsonify(ClaimSchema().dump(claim))


@bp.post("/shifts/<int:shift_id>/signups")
@token_required
def create_signups(shift_id: int) -> tuple[Response, int]:
    data = _load(SignupRequestSchema(), _json_body())
    shift = get_or_404(db.session, Shift, shift_id)
    signups = claim_services.sign_up(db.session, shift, g.api_user, data["member_ids"])
    return jsonify(SignupListSchema().dump({"items": signups})), 201


@bp.post("/shifts/<int:shift_id>/checkin")
@token_required
def shift_checkin(shift_id: int) -> Response:
    data = _load(CheckCodeSchema(), _json_body())
    shift = get_or_404(db.session, Shift, shift_id)
    return jsonify(
        SignupSchema().dump(claim_services.check_in(db.session, shift, g.api_user, data["code"]))
    )


@bp.post("/shifts/<int:shift_id>/checkout")
@token_required
def shift_checkout(shift_id: int) -> Response:
    data = _load(CheckCodeSchema(), _json_body())
    shift = get_or_404(db.session, Shift, shift_id)
    return jsonify(
        SignupSchema().dump(claim_services.check_out(db.session, shift, g.api_user, data["code"]))
    )


@bp.post("/donations")
@token_required
def log_donation() -> tuple[Response, int]:
    """Log a donation in kind; the same ``external_ref`` twice returns the first (200)."""
    data = _load(DonationRequestSchema(), _json_body())
    logged = donation_services.log_donation(
        db.session, g.api_user, donation_services.DonationData(**data)
    )
    return jsonify(DonationSchema().dump(logged.donation)), 201 if logged.created else 200


# --- points ----------------------------------------------------------------------------


@bp.get("/me/points")
@token_required
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
def leaderboards() -> Response:
    args = _load(LeaderboardQuerySchema(), request.args.to_dict())
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
def list_rewards() -> Response:
    return jsonify(RewardListSchema().dump({"items": points_services.rewards(db.session)}))


@bp.post("/rewards/<int:reward_id>/redemptions")
@token_required
def redeem_reward(reward_id: int) -> tuple[Response, int]:
    reward = get_or_404(db.session, Reward, reward_id)
    redemption = points_services.redeem(db.session, reward, g.api_user)
    return jsonify(RedemptionSchema().dump(redemption)), 201
