"""Forms for claiming, delivering, shifts and donations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.claims.models import DeliveryMethod
from app.labels import choices


class ClaimForm(FlaskForm):
    method = SelectField(_l("How will you deliver it?"), default="handover")
    plan = TextAreaField(_l("Work plan (repairs)"), validators=[Optional(), Length(max=2000)])
    plan_cost_yuan = IntegerField(
        _l("Cost of the work (yuan)"), validators=[Optional(), NumberRange(min=0, max=10_000_000)]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Cash is given through the payment form, never as a claim.
        self.method.choices = [c for c in choices(DeliveryMethod) if c[0] != "cash"]


class DeliverForm(FlaskForm):
    note = TextAreaField(_l("What was delivered"), validators=[Optional(), Length(max=1000)])
    photos = MultipleFileField(_l("Photos (JPEG, PNG or WebP)"))


class ShiftForm(FlaskForm):
    day = DateField(_l("Day"), validators=[DataRequired()])
    start_time = TimeField(_l("Start"), validators=[DataRequired()])
    end_time = TimeField(_l("End"), validators=[DataRequired()])
    places = IntegerField(_l("Places"), validators=[DataRequired(), NumberRange(min=1, max=500)])
    meeting_point = StringField(_l("Meeting point"), validators=[Optional(), Length(max=200)])


class DonationForm(FlaskForm):
    item = StringField(_l("Item"), validators=[DataRequired(), Length(max=120)])
    quantity = IntegerField(_l("Quantity"), validators=[DataRequired(), NumberRange(min=1)])
    value_yuan = IntegerField(_l("Value (yuan)"), validators=[DataRequired(), NumberRange(min=0)])
    need_id = IntegerField(
        _l("Need number (leave empty for the pool)"),
        validators=[Optional(), NumberRange(min=1, max=2**31 - 1)],
    )
    district_code = SelectField(_l("Pool district"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
    receipt = FileField(_l("Receipt photo"))


class CsvForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[DataRequired()])
