"""marshmallow schemas of the caseworker's API: households, visits, applications.

Staff-only shapes (an allow-list, like every schema here): the household's identity,
members and score appear only in answers to caseworkers and supervisors of its area.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.households.models import Finding, Relation, VisitMethod
from app.intake.models import ApplicationStatus
from app.labels import label
from app.needs.models import Assistance, CareCategory, ConsentScope, Light, NeedKind, PersonGroup


def _values(enum_cls: Any) -> list[str]:
    return [m.value for m in enum_cls]


def _enum(enum_cls: Any, attribute: str | None = None, **kwargs: Any) -> fields.String:
    return fields.String(attribute=attribute, validate=validate.OneOf(_values(enum_cls)), **kwargs)


class MemberSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    relation = _enum(Relation, "relation.value", required=True)
    birth_year = fields.Integer(required=True)
    disabled = fields.Boolean(required=True)
    seriously_ill = fields.Boolean(required=True)
    works = fields.Boolean(required=True)


class ScoreSchema(Schema):
    value = fields.Integer(required=True, validate=validate.Range(min=-2, max=2))
    computed = fields.Integer(required=True)
    override_reason = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)


class HouseholdSummarySchema(Schema):
    """A household in a list (staff of its area only)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    district_code = fields.String(required=True)
    group = _enum(PersonGroup, "group.value", required=True)
    need_score = fields.Integer(required=True)
    light = _enum(Light, "light.value", required=True)
    light_reason = fields.String(required=True)
    visit_due_on = fields.Date(allow_none=True, required=True)


class HouseholdSchema(HouseholdSummarySchema):
    """One household with its circumstances, members and explained score."""

    id_number = fields.String(required=True)
    phone = fields.String(required=True)
    address = fields.String(required=True)
    registered_district_code = fields.String(allow_none=True, required=True)
    town_id = fields.Integer(allow_none=True, required=True)
    village_id = fields.Integer(allow_none=True, required=True)
    assistance = _enum(Assistance, "assistance.value", required=True)
    lives_alone = fields.Boolean(required=True)
    groups = fields.Method(
        "_groups", required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    care_kinds = fields.Method(
        "_care", required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    consent_on = fields.Date(allow_none=True, required=True)
    consent_scope = _enum(ConsentScope, "consent_scope.value", required=True)
    income_per_head_yuan = fields.Integer(allow_none=True, required=True)
    savings_yuan = fields.Integer(allow_none=True, required=True)
    has_car = fields.Boolean(required=True)
    has_extra_house = fields.Boolean(required=True)
    members = fields.List(fields.Nested(MemberSchema), required=True)
    score = fields.Nested(ScoreSchema, required=True)

    def _groups(self, household: Any) -> list[str]:
        from app.households.services import groups_of

        return [g.value for g in groups_of(household)]

    def _care(self, household: Any) -> list[str]:
        from app.households.services import care_kinds_of

        return [c.value for c in care_kinds_of(household)]


class HouseholdListSchema(Schema):
    items = fields.List(fields.Nested(HouseholdSummarySchema), required=True)


class HouseholdCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=18))
    phone = fields.String(required=True, validate=validate.Length(min=1, max=20))
    address = fields.String(required=True, validate=validate.Length(min=1, max=200))
    district_code = fields.String(required=True, validate=validate.Length(equal=6))
    group = fields.String(required=True, validate=validate.OneOf(_values(PersonGroup)))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lng = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    notes = fields.String(load_default="", validate=validate.Length(max=2000))


class HouseholdPatchSchema(Schema):
    """Circumstances; only the fields sent change."""

    registered_district_code = fields.String(allow_none=True, validate=validate.Length(equal=6))
    town_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    village_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    assistance = fields.String(validate=validate.OneOf(_values(Assistance)))
    lives_alone = fields.Boolean()
    extra_groups = fields.List(
        fields.String(validate=validate.OneOf(_values(PersonGroup))),
        validate=validate.Length(max=7),
    )
    care_kinds = fields.List(
        fields.String(validate=validate.OneOf(_values(CareCategory))),
        validate=validate.Length(max=6),
    )
    consent_on = fields.Date(allow_none=True)
    consent_scope = fields.String(validate=validate.OneOf(_values(ConsentScope)))
    income_per_head_yuan = fields.Integer(
        allow_none=True, validate=validate.Range(min=0, max=100_000_000)
    )
    savings_yuan = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=100_000_000))
    has_car = fields.Boolean()
    has_extra_house = fields.Boolean()


class VisitSchema(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    visitor = fields.String(attribute="visitor.display_name", required=True)
    visited_at = fields.AwareDateTime(required=True)
    method = _enum(VisitMethod, "method.value", required=True)
    met = fields.String(required=True)
    findings = fields.Method(
        "_findings", required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    note = fields.String(required=True)
    need_found = fields.Boolean(required=True)
    draft_need_id = fields.Integer(allow_none=True, required=True)
    status = fields.String(attribute="status.value", required=True)

    def _findings(self, visit: Any) -> list[str]:
        return [f.value for f in visit.finding_list]


class VisitListSchema(Schema):
    items = fields.List(fields.Nested(VisitSchema), required=True)


class VisitCreateSchema(Schema):
    visited_at = fields.AwareDateTime(required=True)
    method = fields.String(required=True, validate=validate.OneOf(_values(VisitMethod)))
    met = fields.String(load_default="", validate=validate.Length(max=80))
    findings = fields.List(
        fields.String(validate=validate.OneOf(_values(Finding))),
        load_default=list,
        validate=validate.Length(max=len(Finding)),
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    need_found = fields.Boolean(load_default=False)


class ApplicationSchema(Schema):
    id = fields.Integer(required=True)
    status = _enum(ApplicationStatus, "status.value", required=True)
    status_label = fields.Function(
        lambda a: label(a.status), required=True, metadata={"type": "string"}
    )
    applicant_name = fields.String(required=True)
    district_code = fields.String(required=True)
    kind = _enum(NeedKind, "kind.value", required=True)
    category = _enum(CareCategory, "category.value", required=True)
    need_text = fields.String(required=True)
    return_reason = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)


class ApplicationListSchema(Schema):
    items = fields.List(fields.Nested(ApplicationSchema), required=True)


class ApplicationCreateSchema(Schema):
    applicant_name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=18))
    phone = fields.String(required=True, validate=validate.Length(min=1, max=20))
    address = fields.String(required=True, validate=validate.Length(min=1, max=200))
    group = fields.String(required=True, validate=validate.OneOf(_values(PersonGroup)))
    kind = fields.String(required=True, validate=validate.OneOf(_values(NeedKind)))
    category = fields.String(required=True, validate=validate.OneOf(_values(CareCategory)))
    need_text = fields.String(required=True, validate=validate.Length(min=1, max=2000))
