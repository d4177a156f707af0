"""Household and need forms for caseworkers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.labels import choices
from app.needs.models import CareCategory, NeedKind, PersonGroup, RepairCategory, Skill, Urgency


class HouseholdForm(FlaskForm):
    name = StringField(
        _l("Name of the head of household"), validators=[DataRequired(), Length(max=80)]
    )
    id_number = StringField(_l("Resident ID number"), validators=[DataRequired(), Length(max=18)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    address = StringField(
        _l("Address where they live"), validators=[DataRequired(), Length(max=200)]
    )
    district_code = SelectField(_l("District of residence"), validators=[DataRequired()])
    group = SelectField(_l("Group"), validators=[DataRequired()])
    lat = FloatField(_l("Latitude (optional)"), validators=[Optional()])
    lng = FloatField(_l("Longitude (optional)"), validators=[Optional()])
    notes = TextAreaField(_l("Private notes"), validators=[Optional(), Length(max=2000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.group.choices = choices(PersonGroup)


class NeedForm(FlaskForm):
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    story = TextAreaField(
        _l("Public story (no names, ID numbers, phone numbers or addresses)"),
        validators=[DataRequired(), Length(max=2000)],
    )
    category = SelectField(_l("Category"), validators=[DataRequired()])
    urgency = SelectField(_l("Urgency"), validators=[DataRequired()], default="normal")
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    item = StringField(_l("Item"), validators=[Optional(), Length(max=120)])
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(min=1, max=10000)])
    estimated_value_yuan = IntegerField(
        _l("Estimated value (yuan)"), validators=[Optional(), NumberRange(min=1, max=1_000_000)]
    )
    task = StringField(_l("Crop or task"), validators=[Optional(), Length(max=120)])
    window_start = DateField(_l("First day"), validators=[Optional()])
    window_end = DateField(_l("Last day"), validators=[Optional()])
    volunteers_needed = IntegerField(
        _l("Volunteers needed"), validators=[Optional(), NumberRange(min=1, max=500)]
    )
    hours_per_volunteer = IntegerField(
        _l("Hours per volunteer"), validators=[Optional(), NumberRange(min=1, max=12)]
    )
    repair_category = SelectField(_l("Repair category"), validators=[Optional()])
    skills = SelectMultipleField(_l("Skills required"), validators=[Optional()])
    estimated_cost_yuan = IntegerField(
        _l("Estimated cost (yuan)"), validators=[Optional(), NumberRange(min=1, max=10_000_000)]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(NeedKind)
        self.category.choices = choices(CareCategory)
        self.urgency.choices = choices(Urgency)
        self.repair_category.choices = [("", "—"), *choices(RepairCategory)]
        self.skills.choices = choices(Skill)
