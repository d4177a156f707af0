"""Forms for logging donations, one by one or by CSV."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


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
