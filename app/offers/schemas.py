"""marshmallow schemas of the offers API: allow-lists of what an offer, a booking and a
pickup check may show. A pickup check carries what and when, never who."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_dump, validate

from app.labels import label
from app.offers.models import BookingStatus, OfferKind, OfferStatus

MAX_ID = 2**31 - 1


def _values(enum_cls: Any) -> list[str]:
    return [m.value for m in enum_cls]


class OfferWindowSchema(Schema):
    """One window of an offer that still takes bookings."""

    slot_id = fields.Integer(attribute="id", required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    left = fields.Integer(required=True, metadata={"description": "Portions or places left"})


class OfferSchema(Schema):
    """An offer as anyone may see it: the provider, the pickup place, the windows."""

    id = fields.Integer(required=True)
    kind = fields.String(
        attribute="kind.value", required=True, validate=validate.OneOf(_values(OfferKind))
    )
    kind_label = fields.Function(
        lambda o: str(label(o.kind)), required=True, metadata={"type": "string"}
    )
    title = fields.String(required=True)
    description = fields.String(required=True)
    provider = fields.String(attribute="organisation.name", required=True)
    district_code = fields.String(required=True)
    place = fields.String(required=True, metadata={"description": "The provider's own place"})
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    status = fields.String(
        attribute="status.value", required=True, validate=validate.OneOf(_values(OfferStatus))
    )
    item = fields.String(allow_none=True, required=True)
    unit = fields.String(allow_none=True, required=True)
    windows = fields.List(fields.Nested(OfferWindowSchema), required=True)

    def __init__(self, *args: Any, slots: dict[int, list[Any]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.slots = slots or {}

    @pre_dump
    def _with_windows(self, offer: Any, **_kwargs: Any) -> Any:
        return _WithWindows(offer, self.slots.get(offer.id, []))


class _WithWindows:
    """An offer with its open windows beside it, for dumping."""

    def __init__(self, offer: Any, windows: list[Any]) -> None:
        self._offer = offer
        self.windows = windows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._offer, name)


class OfferListQuerySchema(Schema):
    """``GET /offers``: offers taking bookings, by words, kind and place."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(validate=validate.Length(max=100))
    kind = fields.String(validate=validate.OneOf(_values(OfferKind)))
    city = fields.String(validate=validate.Regexp(r"^44\d{4}$"))
    district = fields.String(validate=validate.Regexp(r"^44\d{4}$"))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class OfferPageSchema(Schema):
    items = fields.List(fields.Nested(OfferSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class BookingRequestSchema(Schema):
    slot_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    household_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Caseworkers: the household of their area to book for"},
    )


class BookingSchema(Schema):
    """A booking as its booker sees it: the code, what and when (never the household)."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    offer_id = fields.Integer(required=True)
    status = fields.String(
        attribute="status.value", required=True, validate=validate.OneOf(_values(BookingStatus))
    )
    starts_at = fields.DateTime(attribute="slot.starts_at", required=True)
    ends_at = fields.DateTime(attribute="slot.ends_at", required=True)
    expires_at = fields.DateTime(required=True)
    unverified = fields.Boolean(
        required=True, metadata={"description": "One of a person's pickups without proof"}
    )


class PickupSchema(Schema):
    """All a provider learns about a pickup code."""

    valid = fields.Boolean(required=True)
    state = fields.String(
        required=True,
        validate=validate.OneOf(["valid", "redeemed", "used", "expired", "cancelled", "early"]),
    )
    what = fields.String(required=True, metadata={"description": "e.g. 1 meal"})
    when = fields.String(required=True, metadata={"description": "e.g. today 11:00–13:00"})
    message = fields.String(required=True)


class PoolItemSchema(Schema):
    """An item of the district resource pool, for caseworkers: what and how much is left."""

    donation_id = fields.Integer(attribute="donation.id", required=True)
    item = fields.String(attribute="donation.item", required=True)
    quantity = fields.Integer(attribute="donation.quantity", required=True)
    left = fields.Integer(required=True)
    expires_on = fields.Date(allow_none=True, required=True)
    district_code = fields.String(attribute="donation.district_code", required=True)
    donor = fields.String(attribute="donation.organisation.name", required=True)


class PoolSchema(Schema):
    items = fields.List(fields.Nested(PoolItemSchema), required=True)
