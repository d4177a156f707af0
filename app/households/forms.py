"""Forms for the caseworker's household records, visits and the admin's areas and rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.households.models import Finding, LifeEvent, Relation, VisitMethod
from app.labels import choices
from app.needs.models import Assistance, CareCategory, ConsentScope, PersonGroup


class MultiCheckboxField(SelectMultipleField):
    """A tick list: thumbs find boxes more easily than a multi-select on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProfileForm(FlaskForm):
    registered_district_code = SelectField(
        _l("District of household registration (户籍)"), validators=[Optional()]
    )
    town_id = SelectField(_l("Town / street"), validators=[Optional()])
    village_id = SelectField(_l("Village / community"), validators=[Optional()])
    assistance = SelectField(_l("Assistance status"), validators=[DataRequired()])
    lives_alone = BooleanField(_l("Lives alone"))
    extra_groups = MultiCheckboxField(_l("Other groups"), validators=[Optional()])
    care_kinds = MultiCheckboxField(_l("Kinds of care needed"), validators=[Optional()])
    local_services = MultiCheckboxField(_l("Local services (N)"), validators=[Optional()])
    consent_on = DateField(_l("Date of consent"), validators=[Optional()])
    consent_scope = SelectField(_l("What may be published, anonymised"))
    income_per_head_yuan = IntegerField(
        _l("Monthly income per person (yuan)"),
        validators=[Optional(), NumberRange(min=0, max=100_000_000)],
    )
    savings_yuan = IntegerField(
        _l("Savings and deposits (yuan)"),
        validators=[Optional(), NumberRange(min=0, max=100_000_000)],
    )
    has_car = BooleanField(_l("Owns a car"))
    has_extra_house = BooleanField(_l("Owns more than one home"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.assistance.choices = choices(Assistance)
        self.extra_groups.choices = choices(PersonGroup)
        self.care_kinds.choices = choices(CareCategory)
        self.consent_scope.choices = choices(ConsentScope)


class MemberForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    relation = SelectField(_l("Relation"), validators=[DataRequired()])
    birth_year = IntegerField(
        _l("Year of birth"), validators=[DataRequired(), NumberRange(min=1900, max=2100)]
    )
    disabled = BooleanField(_l("Disability"))
    seriously_ill = BooleanField(_l("Serious illness"))
    works = BooleanField(_l("Works"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.relation.choices = choices(Relation)


class EventForm(FlaskForm):
    kind = SelectField(_l("What happened"), validators=[DataRequired()])
    occurred_on = DateField(_l("When"), validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(LifeEvent)


class ScoreForm(FlaskForm):
    score = SelectField(_l("Score"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.score.choices = [("", _l("Use the computed score"))] + [
            (str(n), str(n)) for n in (2, 1, 0, -1, -2)
        ]


class VisitForm(FlaskForm):
    visited_at = DateTimeLocalField(
        _l("When"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    method = SelectField(_l("How"), validators=[DataRequired()], default="home")
    met = StringField(_l("Who was met"), validators=[Optional(), Length(max=80)])
    findings = MultiCheckboxField(_l("What was found"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    photo = FileField(_l("Photo (optional)"))
    need_found = BooleanField(_l("A need was found: draft it next"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.method.choices = choices(VisitMethod)
        self.findings.choices = choices(Finding)


class AreaForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    parent_id = SelectField(_l("Under the town"), validators=[Optional()])


class CityForm(FlaskForm):
    city_code = SelectField(_l("City"), validators=[DataRequired()])
    dibao_line_yuan = IntegerField(
        _l("Subsistence line (yuan per person per month)"),
        validators=[Optional(), NumberRange(min=1, max=100_000)],
    )
    service_name = StringField(
        _l("Add a local service (N)"), validators=[Optional(), Length(max=60)]
    )
