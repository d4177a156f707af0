"""/api/v1 for caseworkers and village agents: households of their area, visits, the
visits due, and applications. Staff answers only: every route checks the role and the
area, and the schemas (``app.api.household_schemas``) are allow-lists."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify
from flask_babel import gettext as _

from app.accounts.models import Role
from app.api.household_schemas import (
    ApplicationCreateSchema,
    ApplicationListSchema,
    ApplicationSchema,
    HouseholdCreateSchema,
    HouseholdListSchema,
    HouseholdPatchSchema,
    HouseholdSchema,
    MemberSchema,
    ScoreSchema,
    VisitCreateSchema,
    VisitListSchema,
    VisitSchema,
)
from app.api.openapi import operation
from app.api.views import bp, token_required
from app.errors import NotAllowed, NotFound
from app.extensions import db
from app.households import services as households
from app.households.models import Finding, VisitMethod
from app.intake import services as intake
from app.needs import services as needs
from app.needs.models import (
    Assistance,
    CareCategory,
    ConsentScope,
    Household,
    NeedKind,
    PersonGroup,
)

_STAFF = (Role.CASEWORKER, Role.VERIFIER)
_NO_HOUSEHOLD = {403: "Not a caseworker or supervisor of this area", 404: "No such household"}


def _staff() -> Any:
    user = g.api_user
    if not user.has_role(*_STAFF):
        raise NotAllowed(_("Only caseworkers and supervisors use this."))
    return user


def _household(household_id: int) -> Household:
    user = _staff()
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound(_("No household has this id."))
    if not household.can_view(user):
        raise NotAllowed(_("This household is outside your area."))
    return household


def _dump_household(household: Household) -> dict[str, Any]:
    data: dict[str, Any] = HouseholdSchema(exclude=("members", "score")).dump(household)
    data["members"] = MemberSchema(many=True).dump(households.members_of(db.session, household))
    score = households.explain_household(db.session, household)
    data["score"] = ScoreSchema().dump(
        {
            "value": household.need_score,
            "computed": household.computed_score,
            "override_reason": household.score_override_reason,
            "reasons": [str(r) for r in score.reasons],
        }
    )
    return data


@bp.get("/households")
@token_required
@operation(
    "Households of my area",
    description="Caseworkers and supervisors: the households of their area, neediest first.",
    returns=HouseholdListSchema,
    errors={403: "Not a caseworker or supervisor"},
)
def list_households() -> Response:
    user = _staff()
    return jsonify(HouseholdListSchema().dump({"items": needs.households_for(db.session, user)}))


@bp.post("/households")
@token_required
@operation(
    "Record a household",
    body=HouseholdCreateSchema,
    returns=HouseholdSchema,
    status=201,
    errors={403: "Not a caseworker"},
)
def create_household(body: dict[str, Any]) -> tuple[Response, int]:
    user = g.api_user
    if not user.has_role(Role.CASEWORKER):
        raise NotAllowed(_("Only caseworkers record households."))
    household = needs.create_household(
        db.session,
        user,
        needs.HouseholdData(
            name=body["name"],
            id_number=body["id_number"],
            phone=body["phone"],
            address=body["address"],
            district_code=body["district_code"],
            group=PersonGroup(body["group"]),
            lat=body["lat"],
            lng=body["lng"],
            notes=body["notes"],
        ),
    )
    households.refresh(db.session, household)
    return jsonify(_dump_household(household)), 201


@bp.get("/households/<int:household_id>")
@token_required
@operation(
    "One household, with members and the explained score",
    returns=HouseholdSchema,
    errors=_NO_HOUSEHOLD,
)
def get_household(household_id: int) -> Response:
    return jsonify(_dump_household(_household(household_id)))


@bp.patch("/households/<int:household_id>")
@token_required
@operation(
    "Change a household's circumstances",
    description="Only the fields sent change; the score and the visit due date follow.",
    body=HouseholdPatchSchema,
    returns=HouseholdSchema,
    errors=_NO_HOUSEHOLD,
)
def patch_household(household_id: int, body: dict[str, Any]) -> Response:
    household = _household(household_id)
    current = households.ProfileData(
        registered_district_code=household.registered_district_code,
        town_id=household.town_id,
        village_id=household.village_id,
        assistance=household.assistance,
        lives_alone=household.lives_alone,
        extra_groups=households.groups_of(household)[1:],
        care_kinds=households.care_kinds_of(household),
        local_service_ids=households.service_ids_of(household),
        consent_on=household.consent_on,
        consent_scope=household.consent_scope,
        income_per_head_yuan=household.income_per_head_yuan,
        savings_yuan=household.savings_yuan,
        has_car=household.has_car,
        has_extra_house=household.has_extra_house,
    )
    converters: dict[str, Any] = {
        "assistance": Assistance,
        "consent_scope": ConsentScope,
        "extra_groups": lambda vs: [PersonGroup(v) for v in vs],
        "care_kinds": lambda vs: [CareCategory(v) for v in vs],
    }
    for key, value in body.items():
        convert = converters.get(key)
        setattr(current, key, convert(value) if convert and value is not None else value)
    households.update_profile(db.session, household, g.api_user, current)
    return jsonify(_dump_household(household))


@bp.get("/households/<int:household_id>/visits")
@token_required
@operation("A household's visits, newest first", returns=VisitListSchema, errors=_NO_HOUSEHOLD)
def list_visits(household_id: int) -> Response:
    household = _household(household_id)
    return jsonify(VisitListSchema().dump({"items": households.visits_of(db.session, household)}))


@bp.post("/households/<int:household_id>/visits")
@token_required
@operation(
    "Log a visit",
    description="`visited_at` carries its time zone; not in the future, at most 60 days back.",
    body=VisitCreateSchema,
    returns=VisitSchema,
    status=201,
    errors=_NO_HOUSEHOLD,
)
def create_visit(household_id: int, body: dict[str, Any]) -> tuple[Response, int]:
    household = _household(household_id)
    visit = households.log_visit(
        db.session,
        household,
        g.api_user,
        households.VisitData(
            visited_at=body["visited_at"],
            method=VisitMethod(body["method"]),
            met=body["met"],
            findings=[Finding(v) for v in body["findings"]],
            note=body["note"],
            need_found=body["need_found"],
        ),
    )
    return jsonify(VisitSchema().dump(visit)), 201


@bp.get("/visits/due")
@token_required
@operation(
    "Households whose visit is overdue or due soon",
    returns=HouseholdListSchema,
    errors={403: "Not a caseworker or supervisor"},
)
def visits_due() -> Response:
    user = _staff()
    return jsonify(HouseholdListSchema().dump({"items": households.due_visits(db.session, user)}))


@bp.post("/applications")
@token_required
@operation(
    "Send an application (village agents)",
    body=ApplicationCreateSchema,
    returns=ApplicationSchema,
    status=201,
    errors={403: "Not a village agent"},
)
def create_application(body: dict[str, Any]) -> tuple[Response, int]:
    application = intake.submit_application(
        db.session,
        g.api_user,
        intake.ApplicationData(
            applicant_name=body["applicant_name"],
            id_number=body["id_number"],
            phone=body["phone"],
            address=body["address"],
            group=PersonGroup(body["group"]),
            kind=NeedKind(body["kind"]),
            category=CareCategory(body["category"]),
            need_text=body["need_text"],
        ),
    )
    return jsonify(ApplicationSchema().dump(application)), 201


@bp.get("/applications")
@token_required
@operation(
    "Applications: an agent's own, or a caseworker's intake queue",
    returns=ApplicationListSchema,
    errors={403: "Neither an agent nor a caseworker or supervisor"},
)
def list_applications() -> Response:
    user = g.api_user
    if user.has_role(Role.AGENT):
        items = intake.applications_of_agent(db.session, user)
    elif user.has_role(*_STAFF):
        items = intake.intake_queue(db.session, user, include_decided=False)
    else:
        raise NotAllowed(_("Only agents and caseworkers see applications."))
    return jsonify(ApplicationListSchema().dump({"items": items}))
