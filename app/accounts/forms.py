"""Sign-in, registration, staff and organisation forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    role = SelectField(
        _l("I am joining as"),
        choices=[
            SelectChoice("donor", _l("A donor")),
            SelectChoice("company", _l("A company (爱心企业)")),
            SelectChoice("team", _l("A volunteer team leader")),
        ],
        validators=[DataRequired()],
    )
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    password_again = PasswordField(
        _l("Password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    organisation_name = StringField(
        _l("Company or team name"), validators=[Optional(), Length(max=120)]
    )
    licence_number = StringField(
        _l("Unified social credit code (companies)"), validators=[Optional(), Length(max=18)]
    )
    district_code = SelectField(_l("District"), validators=[Optional()])


class StaffForm(FlaskForm):
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("caseworker", _l("Caseworker")),
            SelectChoice("verifier", _l("Verifier / supervisor")),
            SelectChoice("admin", _l("Site admin")),
        ],
    )
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    area_code = SelectField(_l("Area"), validators=[Optional()])
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=200)])


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Note or reason"), validators=[Optional(), Length(max=500)])


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Key name"), validators=[DataRequired(), Length(max=80)])


class MemberForm(FlaskForm):
    email = EmailField(_l("Member's email"), validators=[DataRequired(), Email()])
