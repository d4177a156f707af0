"""Forms for claiming, delivering, shifts and donations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    IntegerField,
    SelectField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional

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
