"""Forms for posting offers, permits, booking, checking codes and joining as a recipient."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.labels import choices
from app.offers.models import OfferKind

WEEKDAYS = [
    ("1", _l("Mon")),
    ("2", _l("Tue")),
    ("3", _l("Wed")),
    ("4", _l("Thu")),
    ("5", _l("Fri")),
    ("6", _l("Sat")),
    ("7", _l("Sun")),
]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class OfferForm(FlaskForm):
    kind = SelectField(_l("What do you offer?"), default=OfferKind.MEAL.value)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    district_code = SelectField(_l("District"), validators=[DataRequired()])
    place = StringField(
        _l("Pickup place (your address, shown publicly)"),
        validators=[DataRequired(), Length(max=200)],
    )
    lat = FloatField(_l("Latitude (optional)"), validators=[Optional()])
    lng = FloatField(_l("Longitude (optional)"), validators=[Optional()])
    # meals
    weekdays = CheckboxesField(_l("Days"), default=list("12345"))
    window_start = TimeField(_l("From"), validators=[Optional()])
    window_end = TimeField(_l("Until"), validators=[Optional()])
    portions_per_window = IntegerField(
        _l("Portions per window"), validators=[Optional(), NumberRange(min=1, max=10_000)]
    )
    # goods
    item = StringField(_l("Item"), validators=[Optional(), Length(max=120)])
    quantity = IntegerField(
        _l("Quantity"), validators=[Optional(), NumberRange(min=1, max=100_000)]
    )
    unit = StringField(_l("Unit (bag, box, kg)"), validators=[Optional(), Length(max=20)])
    expires_on = DateField(_l("Keeps until"), validators=[Optional()])
    # services
    service_date = DateField(_l("Date"), validators=[Optional()])
    slot_minutes = IntegerField(
        _l("Minutes per slot"), validators=[Optional(), NumberRange(min=5, max=480)]
    )
    slot_count = IntegerField(_l("Number of slots"), validators=[Optional(), NumberRange(1, 48)])
    places_per_slot = IntegerField(
        _l("People per slot"), validators=[Optional(), NumberRange(min=1, max=100)]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(OfferKind)
        self.weekdays.choices = [(value, str(text)) for value, text in WEEKDAYS]


class PermitForm(FlaskForm):
    licence_expires_on = DateField(_l("Business licence valid until"), validators=[Optional()])
    hygiene_expires_on = DateField(_l("Food-hygiene permit valid until"), validators=[Optional()])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Pickup code"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "off"},
    )


class JoinForm(FlaskForm):
    display_name = StringField(
        _l("Name (or a nickname)"), validators=[DataRequired(), Length(max=80)]
    )
    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)])
    district_code = SelectField(_l("District where you live"), validators=[DataRequired()])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class LinkForm(FlaskForm):
    phone = StringField(
        _l("The person's mobile number"), validators=[DataRequired(), Length(max=20)]
    )
    household_id = SelectField(_l("Household"), validators=[DataRequired()])
