"""The form for planning a shift."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ShiftForm(FlaskForm):
    day = DateField(_l("Day"), validators=[DataRequired()])
    start_time = TimeField(_l("Start"), validators=[DataRequired()])
    end_time = TimeField(_l("End"), validators=[DataRequired()])
    places = IntegerField(_l("Places"), validators=[DataRequired(), NumberRange(min=1, max=500)])
    meeting_point = StringField(_l("Meeting point"), validators=[Optional(), Length(max=200)])
