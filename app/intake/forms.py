"""The agent's application form, the caseworker's return form, the admin's agent form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from app.labels import choices
from app.needs.models import CareCategory, NeedKind, PersonGroup


class ApplicationForm(FlaskForm):
    applicant_name = StringField(
        _l("Name of the applicant"), validators=[DataRequired(), Length(max=80)]
    )
    id_number = StringField(_l("Resident ID number"), validators=[DataRequired(), Length(max=18)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    address = StringField(
        _l("Address where they live"), validators=[DataRequired(), Length(max=200)]
    )
    group = SelectField(_l("Group"), validators=[DataRequired()])
    kind = SelectField(_l("Kind of help"), validators=[DataRequired()])
    category = SelectField(_l("Category"), validators=[DataRequired()])
    need_text = TextAreaField(_l("What is needed"), validators=[DataRequired(), Length(max=2000)])
    documents = MultipleFileField(_l("Photos of documents (up to 5)"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.group.choices = choices(PersonGroup)
        self.kind.choices = choices(NeedKind)
        self.category.choices = choices(CareCategory)


class ReturnForm(FlaskForm):
    note = TextAreaField(_l("Why it is returned"), validators=[DataRequired(), Length(max=500)])


class AgentForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    area_id = SelectField(_l("Village or town"), validators=[DataRequired()])
    password = PasswordField(_l("Initial password"), validators=[DataRequired()])
