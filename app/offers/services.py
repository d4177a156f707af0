"""Offers and pickups: post, book, check, redeem, cancel, expire; permits and recipients.

Rules that the cases insist on, and where they are kept:

- capacity is never over-booked: a slot's ``booked`` moves only by
  ``UPDATE ... SET booked = booked + 1 WHERE booked < capacity`` (and a CHECK backs it);
- a code never redeems twice: redeeming is a compare-and-set through :data:`BOOKING`;
- the provider learns nothing: :func:`check_code` returns only what, how many and when;
- the first pickups need no proof, then a caseworker must link the person to a household:
  the counter moves by a conditional UPDATE too, so racing bookings cannot pass the limit.

Side effects (points for a pickup, notifications) are signals in :mod:`app.events`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation, Role, User
from app.errors import Conflict, InvalidTransition, NotAllowed, NotFound, ValidationFailed
from app.models_base import CHINA, local_today, utcnow
from app.needs.models import Household
from app.offers.models import (
    Booking,
    BookingStatus,
    Offer,
    OfferKind,
    OfferSlot,
    OfferStatus,
    PauseReason,
    ProviderPermit,
    Recipient,
)
from app.places import gazetteer
from app.statemachine import Move, StateMachine, system

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud at a counter
CODE_LENGTH = 8
MAX_SERVICE_SLOTS = 48
MAX_PORTIONS = 10_000


# --- state machines ----------------------------------------------------------------------


def _manager(offer: Offer, actor: Any) -> bool:
    return actor is not None and offer.can_manage(actor)


def _manager_or_admin(offer: Offer, actor: Any) -> bool:
    return actor is not None and (offer.can_manage(actor) or actor.has_role(Role.ADMIN))


def _provider(booking: Booking, actor: Any) -> bool:
    return actor is not None and booking.offer.is_provider(actor)


def _booker(booking: Booking, actor: Any) -> bool:
    """Who booked it, the person it is for, or a caseworker of the household's area."""
    if actor is None:
        return False
    if actor.id == booking.booked_by_id:
        return True
    if booking.recipient is not None and booking.recipient.user_id == actor.id:
        return True
    household = booking.household
    return household is not None and household.can_edit(actor)


OFFER = StateMachine(
    "offer",
    Offer,
    Offer.status,
    {
        "pause": Move({OfferStatus.ACTIVE}, OfferStatus.PAUSED, _manager),
        "resume": Move({OfferStatus.PAUSED}, OfferStatus.ACTIVE, _manager_or_admin),
        "lapse": Move({OfferStatus.ACTIVE}, OfferStatus.PAUSED, system),
        "end": Move({OfferStatus.ACTIVE, OfferStatus.PAUSED}, OfferStatus.ENDED, _manager_or_admin),
    },
)

BOOKING = StateMachine(
    "offer_booking",
    Booking,
    Booking.status,
    {
        "redeem": Move({BookingStatus.BOOKED}, BookingStatus.REDEEMED, _provider),
        "cancel": Move({BookingStatus.BOOKED}, BookingStatus.CANCELLED, _booker),
        "no_show": Move({BookingStatus.BOOKED}, BookingStatus.NO_SHOW, system),
    },
)


# --- time helpers ------------------------------------------------------------------------


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=CHINA).astimezone(UTC)


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    return local_to_utc(day, time(0)), local_to_utc(day + timedelta(days=1), time(0))


def window_text(slot: OfferSlot, now: datetime | None = None) -> str:
    """ "today 11:00–13:00", "tomorrow 11:00–13:00", "3 Dec 11:00–13:00", or for goods
    kept over several days "until 31 Dec"."""
    now = now or utcnow()
    start = slot.starts_at.astimezone(CHINA)
    end = slot.ends_at.astimezone(CHINA)
    today = now.astimezone(CHINA).date()
    if end.date() > start.date():
        # Goods keep until the end of their last day (the window ends at the next midnight).
        last_day = (end - timedelta(minutes=1)).date()
        return str(_l("until %(day)s", day=format_date(last_day, "medium")))
    if start.date() == today:
        day = str(_l("today"))
    elif start.date() == today + timedelta(days=1):
        day = str(_l("tomorrow"))
    else:
        day = format_date(start.date(), "medium")
    return f"{day} {start:%H:%M}–{end:%H:%M}"


def what_text(offer: Offer, quantity: int = 1) -> str:
    """ "1 meal", "1 bag of rice", "1 place: haircut" — what one code is good for."""
    if offer.kind is OfferKind.MEAL:
        return str(_l("%(n)s meal", n=quantity))
    if offer.kind is OfferKind.GOODS:
        return str(
            _l("%(n)s %(unit)s %(item)s", n=quantity, unit=offer.unit or "", item=offer.item or "")
        )
    return str(_l("%(n)s place: %(service)s", n=quantity, service=offer.title))


# --- permits -----------------------------------------------------------------------------


def permit_of(session: Session, organisation: Organisation) -> ProviderPermit | None:
    return session.scalar(
        select(ProviderPermit).where(ProviderPermit.organisation_id == organisation.id)
    )


def save_permit(
    session: Session,
    actor: User,
    licence_expires_on: date | None,
    hygiene_expires_on: date | None,
) -> ProviderPermit:
    """The organisation's admin records the expiry dates on its papers; changed dates wait
    for an admin's re-review before new meal offers may be posted."""
    organisation = actor.organisation
    if organisation is None or not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only the organisation's admin can do that."))
    errors: dict[str, list[str]] = {}
    today = local_today()
    for name, value in (
        ("licence_expires_on", licence_expires_on),
        ("hygiene_expires_on", hygiene_expires_on),
    ):
        if value is None:
            errors[name] = [str(_l("Give the expiry date on the document."))]
        elif value < today or value > today + timedelta(days=365 * 20):
            errors[name] = [str(_l("The date must lie in the future (within 20 years)."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    assert licence_expires_on is not None and hygiene_expires_on is not None
    permit = permit_of(session, organisation)
    if permit is None:
        permit = ProviderPermit(organisation_id=organisation.id)
        session.add(permit)
    if (permit.licence_expires_on, permit.hygiene_expires_on) != (
        licence_expires_on,
        hygiene_expires_on,
    ):
        permit.licence_expires_on = licence_expires_on
        permit.hygiene_expires_on = hygiene_expires_on
        permit.updated_at = utcnow()
    session.flush()
    return permit


def permits_due_for_review(session: Session) -> list[ProviderPermit]:
    """Permits an admin must (re-)review: new or changed dates, or a lapse."""
    today = local_today()
    permits = session.scalars(select(ProviderPermit).order_by(ProviderPermit.updated_at)).all()
    return [p for p in permits if not p.reviewed or p.lapsed(today)]


def review_permit(session: Session, permit: ProviderPermit, admin: User) -> int:
    """An admin checked the papers: the dates count, and meal offers that a lapse paused
    resume. Returns how many offers resumed."""
    if not admin.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only a site admin can review permits."))
    if permit.lapsed(local_today()):
        raise Conflict(_l("These dates have passed; the organisation must enter renewed ones."))
    permit.reviewed_at = utcnow()
    permit.reviewed_by_id = admin.id
    session.flush()
    resumed = 0
    paused = session.scalars(
        select(Offer).where(
            Offer.organisation_id == permit.organisation_id,
            Offer.status == OfferStatus.PAUSED,
            Offer.pause_reason == PauseReason.PERMIT,
        )
    ).all()
    for offer in paused:
        OFFER.apply(session, offer, "resume", admin, pause_reason=PauseReason.NONE)
        resumed += 1
    return resumed


def _meal_permit_problem(session: Session, organisation: Organisation) -> str | None:
    permit = permit_of(session, organisation)
    if permit is None:
        return str(_l("Enter your licence and food-hygiene permit dates first."))
    if permit.lapsed(local_today()):
        return str(_l("Your licence or food-hygiene permit has expired; enter the renewed dates."))
    if not permit.reviewed:
        return str(_l("An admin is still checking your licence and permit dates."))
    return None


def pause_offers_with_lapsed_permits(session: Session) -> int:
    """Meal offers of providers whose licence or hygiene permit lapsed pause (the sweep)."""
    today = local_today()
    lapsed_orgs = [
        p.organisation_id for p in session.scalars(select(ProviderPermit)).all() if p.lapsed(today)
    ]
    if not lapsed_orgs:
        return 0
    offers = session.scalars(
        select(Offer).where(
            Offer.organisation_id.in_(lapsed_orgs),
            Offer.kind == OfferKind.MEAL,
            Offer.status == OfferStatus.ACTIVE,
        )
    ).all()
    for offer in offers:
        OFFER.apply(
            session,
            offer,
            "lapse",
            None,
            note=str(_l("The licence or food-hygiene permit lapsed.")),
            pause_reason=PauseReason.PERMIT,
        )
        events.emit(events.offer_paused, session=session, offer=offer)
    return len(offers)


# --- posting and managing offers -----------------------------------------------------------


@dataclass
class OfferData:
    kind: OfferKind
    title: str
    description: str = ""
    district_code: str = ""
    place: str = ""
    lat: float | None = None
    lng: float | None = None
    # meals
    weekdays: str = ""
    window_start: time | None = None
    window_end: time | None = None
    portions_per_window: int | None = None
    # goods
    item: str = ""
    quantity: int | None = None
    unit: str = ""
    expires_on: date | None = None
    # services
    service_date: date | None = None
    slot_minutes: int | None = None
    slot_count: int | None = None
    places_per_slot: int | None = None


def _offer_problems(data: OfferData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    today = local_today()
    if not data.title.strip() or len(data.title.strip()) > 120:
        errors["title"] = [str(_l("Give a title of at most 120 characters."))]
    if len(data.description) > 2000:
        errors["description"] = [str(_l("At most 2000 characters."))]
    if not gazetteer.is_district(data.district_code):
        errors["district_code"] = [str(_l("Choose a district in Guangdong."))]
    if not data.place.strip() or len(data.place.strip()) > 200:
        errors["place"] = [str(_l("Say where people pick up (at most 200 characters)."))]
    if (data.lat is None) != (data.lng is None) or (
        data.lat is not None
        and data.lng is not None
        and not (20.0 <= data.lat <= 26.0 and 109.0 <= data.lng <= 118.0)
    ):
        errors["lat"] = [str(_l("Give a point in Guangdong, or leave both empty."))]
    if data.kind is OfferKind.MEAL and (data.window_start is None or data.window_end is None):
        errors["window_start"] = [str(_l("Give the start and end time."))]
    elif data.kind is OfferKind.SERVICE and data.window_start is None:
        errors["window_start"] = [str(_l("Give the time the first slot starts."))]
    elif (
        data.kind is OfferKind.MEAL
        and data.window_start is not None
        and data.window_end is not None
        and data.window_end <= data.window_start
    ):
        errors["window_end"] = [str(_l("The window must end after it starts."))]
    if data.kind is OfferKind.MEAL:
        if not data.weekdays or not set(data.weekdays) <= set("1234567"):
            errors["weekdays"] = [str(_l("Choose at least one day of the week."))]
        if data.portions_per_window is None or not 1 <= data.portions_per_window <= MAX_PORTIONS:
            errors["portions_per_window"] = [str(_l("Between 1 and 10,000."))]
    elif data.kind is OfferKind.GOODS:
        if not data.item.strip() or len(data.item.strip()) > 120:
            errors["item"] = [str(_l("Name the item (at most 120 characters)."))]
        if data.quantity is None or not 1 <= data.quantity <= 100_000:
            errors["quantity"] = [str(_l("Between 1 and 100,000."))]
        if not data.unit.strip() or len(data.unit.strip()) > 20:
            errors["unit"] = [str(_l("Give a unit, e.g. bag, box, kg."))]
        if data.expires_on is None or data.expires_on < today:
            errors["expires_on"] = [str(_l("Give a date from today on."))]
        elif data.expires_on > today + timedelta(days=366):
            errors["expires_on"] = [str(_l("At most a year ahead."))]
    else:
        if data.service_date is None or data.service_date < today:
            errors["service_date"] = [str(_l("Give a date from today on."))]
        elif data.service_date > today + timedelta(days=366):
            errors["service_date"] = [str(_l("At most a year ahead."))]
        if data.slot_minutes is None or not 5 <= data.slot_minutes <= 480:
            errors["slot_minutes"] = [str(_l("Between 5 and 480 minutes."))]
        if data.slot_count is None or not 1 <= data.slot_count <= MAX_SERVICE_SLOTS:
            errors["slot_count"] = [str(_l("Between 1 and 48 slots."))]
        if data.places_per_slot is None or not 1 <= data.places_per_slot <= 100:
            errors["places_per_slot"] = [str(_l("Between 1 and 100."))]
    return errors


def _verified_org(actor: User) -> Organisation:
    organisation = actor.organisation
    if organisation is None or not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only an organisation's admin can post offers."))
    if not organisation.is_verified:
        raise NotAllowed(_l("Your organisation must be verified by an admin before it can offer."))
    return organisation


def can_post_offers(user: User) -> bool:
    organisation = user.organisation if user.is_authenticated else None
    return organisation is not None and user.is_org_admin(organisation) and organisation.is_verified


def post_offer(session: Session, actor: User, data: OfferData) -> Offer:
    """A verified organisation posts an offer; its windows open for booking at once."""
    organisation = _verified_org(actor)
    errors = _offer_problems(data)
    if data.kind is OfferKind.MEAL and not errors:
        problem = _meal_permit_problem(session, organisation)
        if problem:
            raise NotAllowed(problem)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    if data.lat is None or data.lng is None:
        centre = gazetteer.get(data.district_code)
        assert centre is not None
        lat, lng = centre.lat, centre.lng
    else:
        lat, lng = data.lat, data.lng
    offer = Offer(
        organisation_id=organisation.id,
        created_by_id=actor.id,
        kind=data.kind,
        title=data.title.strip(),
        description=data.description.strip(),
        district_code=data.district_code,
        place=data.place.strip(),
        lat=lat,
        lng=lng,
    )
    if data.kind is OfferKind.MEAL:
        offer.weekdays = "".join(sorted(set(data.weekdays)))
        offer.window_start = data.window_start
        offer.window_end = data.window_end
        offer.portions_per_window = data.portions_per_window
    elif data.kind is OfferKind.GOODS:
        offer.item = data.item.strip()
        offer.quantity = data.quantity
        offer.unit = data.unit.strip()
        offer.expires_on = data.expires_on
    session.add(offer)
    session.flush()
    if data.kind is OfferKind.MEAL:
        open_meal_windows(session, offer)
    elif data.kind is OfferKind.GOODS:
        assert data.expires_on is not None and data.quantity is not None
        now = utcnow().replace(second=0, microsecond=0)
        session.add(
            OfferSlot(
                offer_id=offer.id,
                starts_at=now,
                ends_at=local_to_utc(data.expires_on + timedelta(days=1), time(0)),
                capacity=data.quantity,
            )
        )
    else:
        assert data.service_date and data.window_start and data.slot_minutes and data.slot_count
        assert data.places_per_slot is not None
        start = local_to_utc(data.service_date, data.window_start)
        length = timedelta(minutes=data.slot_minutes)
        for i in range(data.slot_count):
            session.add(
                OfferSlot(
                    offer_id=offer.id,
                    starts_at=start + i * length,
                    ends_at=start + (i + 1) * length,
                    capacity=data.places_per_slot,
                )
            )
    session.flush()
    session.refresh(offer)
    return offer


def open_meal_windows(session: Session, offer: Offer, today: date | None = None) -> int:
    """Create the meal windows of the coming days (idempotent); returns how many."""
    if offer.kind is not OfferKind.MEAL or offer.status is OfferStatus.ENDED:
        return 0
    assert offer.window_start and offer.window_end and offer.portions_per_window
    today = today or local_today()
    have = set(
        session.scalars(select(OfferSlot.starts_at).where(OfferSlot.offer_id == offer.id)).all()
    )
    now = utcnow()
    created = 0
    for ahead in range(current_app.config["OFFER_DAYS_AHEAD"]):
        day = today + timedelta(days=ahead)
        if str(day.isoweekday()) not in offer.weekdays:
            continue
        starts = local_to_utc(day, offer.window_start)
        ends = local_to_utc(day, offer.window_end)
        if starts in have or ends <= now:
            continue
        session.add(
            OfferSlot(
                offer_id=offer.id,
                starts_at=starts,
                ends_at=ends,
                capacity=offer.portions_per_window,
            )
        )
        created += 1
    session.flush()
    return created


def change_offer(session: Session, offer: Offer, actor: User, action: str) -> None:
    """Pause, resume or end an offer. A permit pause is lifted only by an admin's review."""
    if action not in ("pause", "resume", "end"):
        raise NotFound(_l("Not found."))
    if action == "resume" and offer.pause_reason is PauseReason.PERMIT:
        raise NotAllowed(
            _l("This offer was paused because a permit lapsed; it resumes after an admin's review.")
        )
    reason = PauseReason.PROVIDER if action == "pause" else offer.pause_reason
    if action == "resume":
        reason = PauseReason.NONE
    OFFER.apply(session, offer, action, actor, pause_reason=reason)
    if action == "resume":
        open_meal_windows(session, offer)


@dataclass
class OfferFilters:
    kind: OfferKind | None = None
    city: str | None = None
    district: str | None = None
    q: str = ""


def search_offers(
    session: Session, filters: OfferFilters, limit: int = 50, offset: int = 0
) -> tuple[list[Offer], int]:
    """Active offers by place, kind and words (title, item, place, provider)."""
    query = select(Offer).join(Offer.organisation).where(Offer.status == OfferStatus.ACTIVE)
    if filters.kind is not None:
        query = query.where(Offer.kind == filters.kind)
    if filters.district:
        query = query.where(Offer.district_code == filters.district)
    elif filters.city:
        codes = [d.code for d in gazetteer.districts(filters.city)] or [filters.city]
        query = query.where(Offer.district_code.in_(codes))
    words = [w for w in filters.q.split() if w][:5]
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Offer.title.ilike(pattern, escape="\\"),
                Offer.item.ilike(pattern, escape="\\"),
                Offer.place.ilike(pattern, escape="\\"),
                Offer.description.ilike(pattern, escape="\\"),
                Organisation.name.ilike(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    offers = session.scalars(
        query.order_by(Offer.created_at.desc(), Offer.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(offers), total


def open_slots(session: Session, offers: Iterable[Offer]) -> dict[int, list[OfferSlot]]:
    """Upcoming windows with portions left, per offer (one query for a whole page)."""
    ids = [o.id for o in offers]
    result: dict[int, list[OfferSlot]] = {i: [] for i in ids}
    if not ids:
        return result
    slots = session.scalars(
        select(OfferSlot)
        .where(OfferSlot.offer_id.in_(ids), OfferSlot.ends_at > utcnow())
        .order_by(OfferSlot.starts_at)
    ).all()
    for slot in slots:
        result[slot.offer_id].append(slot)
    return result


@dataclass
class Uptake:
    booked: int = 0
    redeemed: int = 0
    cancelled: int = 0
    no_show: int = 0


def uptake(session: Session, offers: Iterable[Offer]) -> dict[int, Uptake]:
    """Bookings per state for each offer, for the provider's overview (counts only)."""
    ids = [o.id for o in offers]
    result = {i: Uptake() for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(Booking.offer_id, Booking.status, func.count())
        .where(Booking.offer_id.in_(ids))
        .group_by(Booking.offer_id, Booking.status)
    ).all()
    for offer_id, status, count in rows:
        setattr(result[offer_id], status.value, count)
    return result


def offers_of(session: Session, organisation: Organisation) -> list[Offer]:
    return list(
        session.scalars(
            select(Offer)
            .where(Offer.organisation_id == organisation.id)
            .order_by(Offer.status, Offer.created_at.desc())
        )
    )


# --- recipients ----------------------------------------------------------------------------


def normalise_phone(phone: str) -> str | None:
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if len(digits) == 11 and digits.startswith("1") else None


def phone_hash(phone: str) -> str:
    """A keyed hash: the same phone always maps to the same row, and the table alone does
    not give the numbers back."""
    key = current_app.config["SECRET_KEY"].encode()
    return hashlib.blake2b(phone.encode(), key=key[:64], digest_size=32).hexdigest()


def recipient_of(session: Session, user: User) -> Recipient | None:
    if not user.is_authenticated:
        return None
    return session.scalar(select(Recipient).where(Recipient.user_id == user.id))


def _recipient_problems(
    session: Session, email: str, display_name: str, phone: str, district_code: str
) -> tuple[dict[str, list[str]], str | None]:
    from app.accounts import services as accounts

    errors: dict[str, list[str]] = {}
    normalised = normalise_phone(phone)
    if normalised is None:
        errors["phone"] = [str(_l("Enter an 11-digit mobile number."))]
    elif session.scalar(select(Recipient.id).where(Recipient.phone_hash == phone_hash(normalised))):
        errors["phone"] = [str(_l("An account with this phone number already exists."))]
    if not gazetteer.is_district(district_code):
        errors["district_code"] = [str(_l("Choose the district where you live."))]
    if "@" not in email or len(email) > 254:
        errors["email"] = [str(_l("Enter an email address."))]
    elif accounts.get_user_by_email(session, email) is not None:
        errors["email"] = [str(_l("An account with this email already exists."))]
    if not display_name.strip() or len(display_name.strip()) > 80:
        errors["display_name"] = [str(_l("Please enter a name."))]
    return errors, normalised


def register_recipient(
    session: Session, email: str, password: str, display_name: str, phone: str, district_code: str
) -> User:
    """A person in hardship opens an account to book offers for themselves."""
    from app.accounts import services as accounts

    errors, _normalised = _recipient_problems(session, email, display_name, phone, district_code)
    problems = accounts.password_problems(password, email)
    if problems:
        errors["password"] = problems
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    return register_recipient_with_hash(
        session, email, accounts.hash_password(password), display_name, phone, district_code
    )


def register_recipient_with_hash(
    session: Session,
    email: str,
    password_hash: str,
    display_name: str,
    phone: str,
    district_code: str,
) -> User:
    """The account of a person in hardship, with a password already hashed (the demo
    shares one hash between its accounts)."""
    from app.accounts import services as accounts

    errors, normalised = _recipient_problems(session, email, display_name, phone, district_code)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    assert normalised is not None
    user = User(
        email=accounts.normalise_email(email),
        password_hash=password_hash,
        display_name=display_name.strip(),
        role=Role.RECIPIENT,
        area_code=None,
    )
    session.add(user)
    session.flush()
    session.add(
        Recipient(user_id=user.id, phone_hash=phone_hash(normalised), district_code=district_code)
    )
    session.flush()
    return user


def link_recipient(session: Session, actor: User, phone: str, household: Household) -> Recipient:
    """A caseworker who knows the household links the person's account to it (from now on
    their bookings count against the household and need no proof)."""
    if not household.can_edit(actor):
        raise NotAllowed(_l("Only a caseworker of this area can do that."))
    normalised = normalise_phone(phone)
    recipient = (
        session.scalar(select(Recipient).where(Recipient.phone_hash == phone_hash(normalised)))
        if normalised
        else None
    )
    if recipient is None:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"phone": [str(_l("No person has registered with this phone number."))]},
        )
    recipient.household_id = household.id
    recipient.district_code = household.district_code
    recipient.linked_by_id = actor.id
    recipient.linked_at = utcnow()
    session.flush()
    return recipient


def recipients_linked_by_area(session: Session, actor: User) -> list[Recipient]:
    rows = session.scalars(
        select(Recipient).where(Recipient.household_id.is_not(None)).order_by(Recipient.linked_at)
    ).all()
    return [r for r in rows if actor.works_in(r.district_code)]


def unlinked_in_area(session: Session, actor: User) -> int:
    """How many people of the caseworker's area book without a linked household."""
    rows = session.scalars(
        select(Recipient.district_code).where(Recipient.household_id.is_(None))
    ).all()
    return sum(1 for code in rows if actor.works_in(code))


# --- booking ------------------------------------------------------------------------------


def new_code() -> str:
    """A random pickup code: it encodes nothing about the booking or the person."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _count_bookings(
    session: Session,
    *,
    household_id: int | None,
    recipient_id: int | None,
    since: datetime,
    until: datetime,
) -> int:
    query = (
        select(func.count(Booking.id))
        .join(OfferSlot, OfferSlot.id == Booking.slot_id)
        .where(
            Booking.status != BookingStatus.CANCELLED,
            OfferSlot.starts_at >= since,
            OfferSlot.starts_at < until,
        )
    )
    if household_id is not None:
        query = query.where(Booking.household_id == household_id)
    else:
        query = query.where(Booking.recipient_id == recipient_id)
    return session.scalar(query) or 0


def _check_limits(
    session: Session, slot: OfferSlot, household_id: int | None, recipient_id: int | None
) -> None:
    config = current_app.config
    day = slot.starts_at.astimezone(CHINA).date()
    day_start, day_end = _local_day_bounds(day)
    monday = day - timedelta(days=day.weekday())
    week_start, _ = _local_day_bounds(monday)
    week_end, _ = _local_day_bounds(monday + timedelta(days=7))
    who = {"household_id": household_id, "recipient_id": recipient_id}
    if (
        _count_bookings(session, since=day_start, until=day_end, **who)
        >= config["OFFER_BOOKINGS_PER_DAY"]
    ):
        raise Conflict(
            _l("The limit of %(n)s bookings a day is reached.", n=config["OFFER_BOOKINGS_PER_DAY"])
        )
    if (
        _count_bookings(session, since=week_start, until=week_end, **who)
        >= config["OFFER_BOOKINGS_PER_WEEK"]
    ):
        raise Conflict(
            _l(
                "The limit of %(n)s bookings a week is reached.",
                n=config["OFFER_BOOKINGS_PER_WEEK"],
            )
        )


def _lock(session: Session, model: type, ident: int) -> None:
    """Serialise bookings for one household or person (limits are counted, then written).
    SQLite already runs one writer at a time (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(model.id).where(model.id == ident).with_for_update())  # type: ignore[attr-defined]


def can_book(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.CASEWORKER, Role.RECIPIENT)


def book(
    session: Session, actor: User, slot: OfferSlot, household: Household | None = None
) -> Booking:
    """Book one portion of ``slot``: a caseworker for a household of their area, or a
    person for themselves (as their linked household, or one of their pickups without
    proof). Raises ``Conflict`` when nothing is left or a limit is reached."""
    offer = slot.offer
    now = utcnow()
    if not offer.is_bookable:
        raise Conflict(_l("This offer is not taking bookings now."))
    if slot.ends_at <= now:
        raise Conflict(_l("This window is over."))
    recipient: Recipient | None = None
    unverified = False
    if actor.has_role(Role.CASEWORKER):
        if household is None:
            raise ValidationFailed(
                _l("Please correct the marked fields."),
                {"household_id": [str(_l("Choose a household of your area."))]},
            )
        if not household.can_edit(actor):
            raise NotAllowed(_l("Only a caseworker of this area can do that."))
    elif actor.has_role(Role.RECIPIENT):
        recipient = recipient_of(session, actor)
        if recipient is None:
            raise NotAllowed(_l("You are not allowed to do that."))
        household = recipient.household
        unverified = household is None
    else:
        raise NotAllowed(_l("Only caseworkers and registered people in hardship book offers."))

    if household is not None:
        _lock(session, Household, household.id)
        _check_limits(session, slot, household.id, None)
    else:
        assert recipient is not None
        _lock(session, Recipient, recipient.id)
        _check_limits(session, slot, None, recipient.id)
    if unverified:
        assert recipient is not None
        counted = session.execute(
            update(Recipient)
            .where(
                Recipient.id == recipient.id,
                Recipient.household_id.is_(None),
                Recipient.unverified_used < current_app.config["OFFER_UNVERIFIED_PICKUPS"],
            )
            .values(unverified_used=Recipient.unverified_used + 1)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:  # type: ignore[attr-defined]
            raise NotAllowed(
                _l(
                    "You have used your %(n)s pickups without proof. Ask your caseworker to "
                    "link your account to your household; then you can book again.",
                    n=current_app.config["OFFER_UNVERIFIED_PICKUPS"],
                )
            )
    taken = session.execute(
        update(OfferSlot)
        .where(OfferSlot.id == slot.id, OfferSlot.booked < OfferSlot.capacity)
        .values(booked=OfferSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_l("Nothing is left in this window. Please choose another."))
    grace = timedelta(minutes=current_app.config["OFFER_GRACE_MINUTES"])
    booking = Booking(
        code=new_code(),
        offer_id=offer.id,
        slot_id=slot.id,
        household_id=household.id if household is not None else None,
        recipient_id=recipient.id if recipient is not None else None,
        booked_by_id=actor.id,
        unverified=unverified,
        expires_at=slot.ends_at + grace,
    )
    session.add(booking)
    session.flush()
    session.refresh(slot)
    events.emit(events.booking_made, session=session, booking=booking, actor=actor)
    return booking


def _free_portion(session: Session, booking: Booking) -> None:
    session.execute(
        update(OfferSlot)
        .where(OfferSlot.id == booking.slot_id, OfferSlot.booked > 0)
        .values(booked=OfferSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def cancel_booking(session: Session, booking: Booking, actor: User) -> None:
    """Give a booking back before its window: the portion is free again, and a pickup
    without proof is not counted."""
    BOOKING.apply(session, booking, "cancel", actor)
    _free_portion(session, booking)
    if booking.unverified and booking.recipient_id is not None:
        session.execute(
            update(Recipient)
            .where(Recipient.id == booking.recipient_id, Recipient.unverified_used > 0)
            .values(unverified_used=Recipient.unverified_used - 1)
            .execution_options(synchronize_session=False)
        )
    session.flush()


def expire_unused_codes(session: Session, now: datetime | None = None) -> int:
    """Codes whose window (and grace) passed unused: no-show, and the portion is freed.
    Called by the sweep through :data:`app.events.sweep_running`."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Booking)
        .where(Booking.status == BookingStatus.BOOKED, Booking.expires_at < now)
        .order_by(Booking.id)
    ).all()
    expired = 0
    for booking in overdue:
        try:
            BOOKING.apply(session, booking, "no_show", None)
        except InvalidTransition:  # redeemed a moment ago: nothing to free
            continue
        _free_portion(session, booking)
        expired += 1
    session.flush()
    return expired


def bookings_of(session: Session, user: User, limit: int = 100) -> list[Booking]:
    """A person's own bookings, or the bookings a caseworker made or may see."""
    recipient = recipient_of(session, user)
    query = select(Booking).order_by(Booking.created_at.desc()).limit(limit)
    if recipient is not None:
        query = query.where(
            or_(Booking.recipient_id == recipient.id, Booking.booked_by_id == user.id)
        )
    else:
        query = query.where(Booking.booked_by_id == user.id)
    return list(session.scalars(query))


def can_see_booking(booking: Booking, user: User) -> bool:
    return _booker(booking, user)


# --- the provider's side: check and redeem ---------------------------------------------------


@dataclass(frozen=True)
class PickupCheck:
    """All a provider learns about a code: whether it is good now, for what and when."""

    valid: bool
    state: str  # valid | redeemed (just now) | used | expired | cancelled | early
    what: str
    when: str
    message: str


def _booking_for_provider(session: Session, actor: User, code: str) -> Booking:
    code = (code or "").strip().upper().replace(" ", "").replace("-", "")
    org_ids = [m.organisation_id for m in actor.memberships] if actor.is_authenticated else []
    if not org_ids:
        raise NotAllowed(_l("Only the provider's staff can check pickup codes."))
    booking = None
    if len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET):
        booking = session.scalar(
            select(Booking)
            .join(Offer, Offer.id == Booking.offer_id)
            .where(Booking.code == code, Offer.organisation_id.in_(org_ids))
        )
    if booking is None:
        # Codes of other providers look exactly like codes that do not exist.
        raise NotFound(_l("This code is not valid here."))
    return booking


def _describe(session: Session, booking: Booking, now: datetime) -> PickupCheck:
    what = what_text(booking.offer)
    when = window_text(booking.slot, now)
    early = booking.slot.starts_at - timedelta(minutes=current_app.config["OFFER_EARLY_MINUTES"])
    if booking.status is BookingStatus.REDEEMED:
        return PickupCheck(False, "used", what, when, str(_l("Already used.")))
    if booking.status is BookingStatus.CANCELLED:
        return PickupCheck(False, "cancelled", what, when, str(_l("Cancelled.")))
    if booking.status is BookingStatus.NO_SHOW or booking.expires_at < now:
        return PickupCheck(False, "expired", what, when, str(_l("Expired.")))
    if now < early:
        return PickupCheck(
            False, "early", what, when, str(_l("Not yet: valid %(when)s.", when=when))
        )
    return PickupCheck(
        True, "valid", what, when, str(_l("Valid: %(what)s, %(when)s", what=what, when=when))
    )


def check_code(
    session: Session, actor: User, code: str, now: datetime | None = None
) -> PickupCheck:
    """What a provider's device shows for a code: no name, no household, no history."""
    booking = _booking_for_provider(session, actor, code)
    return _describe(session, booking, now or utcnow())


def redeem_code(
    session: Session, actor: User, code: str, now: datetime | None = None
) -> PickupCheck:
    """Mark a code used. Two devices redeeming one code at once: one wins, the other is
    told it is already used (the compare-and-set in :data:`BOOKING`)."""
    now = now or utcnow()
    booking = _booking_for_provider(session, actor, code)
    result = _describe(session, booking, now)
    if not result.valid:
        raise Conflict(result.message)
    try:
        BOOKING.apply(session, booking, "redeem", actor, redeemed_at=now, redeemed_by_id=actor.id)
    except InvalidTransition:
        raise Conflict(_l("Already used.")) from None
    events.emit(
        events.pickup_redeemed, session=session, booking=booking, offer=booking.offer, actor=actor
    )
    return PickupCheck(
        True,
        "redeemed",
        result.what,
        result.when,
        str(_l("Redeemed: %(what)s, %(when)s", what=result.what, when=result.when)),
    )
