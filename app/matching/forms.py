"""The matching profile form of a team leader or company admin."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FloatField, IntegerField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import district_choices

WEEKDAY_NAMES = (
    (1, _l("Monday")),
    (2, _l("Tuesday")),
    (3, _l("Wednesday")),
    (4, _l("Thursday")),
    (5, _l("Friday")),
    (6, _l("Saturday")),
    (7, _l("Sunday")),
)


class MatchingProfileForm(FlaskForm):
    district_code = SelectField(
        _l("District you work from (its centre is used when no coordinates are given)"),
        validators=[Optional()],
    )
    base_lat = FloatField(_l("Latitude of your base (optional)"), validators=[Optional()])
    base_lng = FloatField(_l("Longitude of your base (optional)"), validators=[Optional()])
    radius_km = IntegerField(
        _l("How far you travel (km)"), default=30, validators=[DataRequired(), NumberRange(1, 200)]
    )
    team_size = IntegerField(
        _l("People you can bring on one day"), validators=[Optional(), NumberRange(1, 500)]
    )
    weekdays = SelectMultipleField(
        _l("Weekdays you are available"),
        coerce=int,
        choices=[SelectChoice(n, name) for n, name in WEEKDAY_NAMES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.district_code.choices = district_choices()
