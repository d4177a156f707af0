"""marshmallow schemas of /api/v1/reports (the JSON edge of the reports package)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.reports.services import GROUP_BY

PERIOD = validate.Regexp(
    r"^(last12|20\d{2}|20\d{2}-(0[1-9]|1[0-2]))$",
    error="Use last12, a year (2026) or a month (2026-03).",
)


class ReportQuerySchema(Schema):
    period = fields.String(
        load_default="last12",
        validate=PERIOD,
        metadata={"description": "last12 (default), a year (2026) or a month (2026-03)"},
    )


class SummaryQuerySchema(ReportQuerySchema):
    area = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{6}$", error="A six-digit area code."),
        metadata={"description": "Area code within the caller's own area (default: theirs)"},
    )
    group_by = fields.String(load_default="month", validate=validate.OneOf(GROUP_BY))


class AreaSchema(Schema):
    code = fields.String(required=True)
    level = fields.String(required=True)
    name = fields.String(required=True)


class PeriodSchema(Schema):
    key = fields.String(required=True)
    first = fields.String(required=True)
    last = fields.String(required=True)


class NeedFigureSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    collected = fields.Integer(required=True)
    published = fields.Integer(required=True)
    resolved = fields.Integer(required=True)


class WaitSchema(Schema):
    count = fields.Integer(required=True)
    median_hours = fields.Integer(allow_none=True, required=True)
    p90_hours = fields.Integer(allow_none=True, required=True)


class WaitsSchema(Schema):
    claim = fields.Nested(WaitSchema, required=True)
    confirm = fields.Nested(WaitSchema, required=True)


class LightFigureSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True)


class ValueSchema(Schema):
    cash_yuan = fields.Float(required=True)
    in_kind_yuan = fields.Integer(required=True)
    volunteer_hours = fields.Float(required=True)
    confirmed_claims = fields.Integer(required=True)


class OrganisationFigureSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    confirmed_claims = fields.Integer(required=True)
    in_kind_yuan = fields.Integer(required=True)
    volunteer_hours = fields.Float(required=True)


class SummarySchema(Schema):
    area = fields.Nested(AreaSchema, required=True)
    period = fields.Nested(PeriodSchema, required=True)
    group_by = fields.String(required=True)
    as_of = fields.String(allow_none=True, required=True)
    households_recorded = fields.Integer(required=True)
    needs = fields.List(fields.Nested(NeedFigureSchema), required=True)
    durations = fields.Nested(WaitsSchema, required=True)
    lights = fields.List(fields.Nested(LightFigureSchema), required=True)
    value = fields.Nested(ValueSchema, required=True)
    top_organisations = fields.List(fields.Nested(OrganisationFigureSchema), required=True)


class PublicCellSchema(Schema):
    """Figures of one area (and month); all null when fewer than ``small_cell`` households."""

    month = fields.String()
    suppressed = fields.Boolean()
    fulfilled = fields.Integer(allow_none=True)
    households = fields.Integer(allow_none=True)
    hours = fields.Float(allow_none=True)
    cash_yuan = fields.Float(allow_none=True)
    goods_yuan = fields.Integer(allow_none=True)


class PublicCitySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    total = fields.Nested(PublicCellSchema, required=True)
    months = fields.List(fields.Nested(PublicCellSchema), required=True)


class PublicDistrictSchema(PublicCellSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)


class PublicFiguresSchema(Schema):
    period = fields.Nested(PeriodSchema, required=True)
    small_cell = fields.Integer(required=True)
    province = fields.List(fields.Nested(PublicCellSchema), required=True)
    cities = fields.List(fields.Nested(PublicCitySchema), required=True)
    districts = fields.List(fields.Nested(PublicDistrictSchema), required=True)
