"""The district resource pool (爱心资源库, 慈善驿站): received in-kind donations not given to
a need, browsed by caseworkers, partly reserved for a household and handed out at the
station against a pickup code. One pool: the items are ``app.donations``' donations;
this module keeps their stock, expiry and reservations.

Nothing is handed out twice: stock moves by a conditional UPDATE (never below zero), a
reservation's code is handed out once (compare-and-set through :data:`RESERVATION`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.donations.models import Donation, DonationStatus
from app.errors import Conflict, InvalidTransition, NotAllowed, NotFound, ValidationFailed
from app.models_base import local_today, utcnow
from app.needs.models import Household, Need
from app.offers.models import PoolReservation, PoolStock, ReservationStatus
from app.offers.services import CODE_ALPHABET, CODE_LENGTH, new_code
from app.statemachine import Move, StateMachine, system


def _caseworker_for(actor: Any, district_code: str) -> bool:
    return (
        actor is not None
        and actor.is_authenticated
        and actor.has_role(Role.CASEWORKER)
        and actor.works_in(district_code)
    )


def _station(reservation: PoolReservation, actor: Any) -> bool:
    """The station is run by the caseworkers of the pool's district."""
    return _caseworker_for(actor, reservation.donation.district_code)


RESERVATION = StateMachine(
    "pool_reservation",
    PoolReservation,
    PoolReservation.status,
    {
        "hand_out": Move({ReservationStatus.RESERVED}, ReservationStatus.HANDED_OUT, _station),
        "cancel": Move({ReservationStatus.RESERVED}, ReservationStatus.CANCELLED, _station),
        "expire": Move({ReservationStatus.RESERVED}, ReservationStatus.EXPIRED, system),
    },
)


@dataclass(frozen=True)
class PoolItem:
    donation: Donation
    stock: PoolStock | None

    @property
    def left(self) -> int:
        return self.stock.left if self.stock else self.donation.quantity

    @property
    def expires_on(self) -> date | None:
        return self.stock.expires_on if self.stock else None


def _in_pool(donation: Donation) -> bool:
    return donation.status is DonationStatus.RECEIVED and donation.need_id is None


def pool_items(session: Session, actor: User, include_empty: bool = False) -> list[PoolItem]:
    """The pool of the caseworker's area: what is left and keeps, oldest first."""
    if not actor.has_role(Role.CASEWORKER):
        raise NotAllowed(_l("Only caseworkers use the resource pool."))
    rows = session.execute(
        select(Donation, PoolStock)
        .outerjoin(PoolStock, PoolStock.donation_id == Donation.id)
        .where(Donation.status == DonationStatus.RECEIVED, Donation.need_id.is_(None))
        .order_by(Donation.received_at, Donation.id)
    ).all()
    today = local_today()
    items = []
    for donation, stock in rows:
        if not actor.works_in(donation.district_code):
            continue
        item = PoolItem(donation, stock)
        expired = item.expires_on is not None and item.expires_on < today
        if include_empty or (item.left > 0 and not expired):
            items.append(item)
    return items


def _stock_for(session: Session, donation: Donation) -> PoolStock:
    """The stock row of a pooled donation, created on first use (race-safe)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(PoolStock)
        .values(donation_id=donation.id, quantity=donation.quantity, reserved=0)
        .on_conflict_do_nothing(index_elements=["donation_id"])
    )
    stock = session.get(PoolStock, donation.id, populate_existing=True)
    assert stock is not None
    return stock


def set_expiry(session: Session, actor: User, donation: Donation, expires_on: date | None) -> None:
    """The station records until when the goods keep (food, medicine)."""
    if not _caseworker_for(actor, donation.district_code) or not _in_pool(donation):
        raise NotAllowed(_l("Only a caseworker of this area can do that."))
    stock = _stock_for(session, donation)
    stock.expires_on = expires_on
    session.flush()


def reserve(
    session: Session,
    actor: User,
    donation: Donation,
    household: Household,
    quantity: int,
    need: Need | None = None,
) -> PoolReservation:
    """Set part of a pool item aside for a household of the caseworker's area; answers a
    reservation with its pickup code."""
    if not _caseworker_for(actor, donation.district_code) or not household.can_edit(actor):
        raise NotAllowed(_l("Only a caseworker of this area can do that."))
    if not _in_pool(donation):
        raise Conflict(_l("This item is no longer in the pool."))
    if not 1 <= quantity <= donation.quantity:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"quantity": [str(_l("Between 1 and what is left."))]},
        )
    if need is not None and need.household_id != household.id:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"need_id": [str(_l("The need must be of the same household."))]},
        )
    stock = _stock_for(session, donation)
    if stock.expires_on is not None and stock.expires_on < local_today():
        raise Conflict(_l("These goods have expired."))
    taken = session.execute(
        update(PoolStock)
        .where(
            PoolStock.donation_id == donation.id,
            PoolStock.reserved + quantity <= PoolStock.quantity,
        )
        .values(reserved=PoolStock.reserved + quantity)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_l("Not enough is left of this item."))
    days = current_app.config["POOL_HOLD_DAYS"]
    reservation = PoolReservation(
        donation_id=donation.id,
        household_id=household.id,
        need_id=need.id if need is not None else None,
        quantity=quantity,
        code=new_code(),
        reserved_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(reservation)
    session.flush()
    return reservation


def _free(session: Session, reservation: PoolReservation) -> None:
    session.execute(
        update(PoolStock)
        .where(
            PoolStock.donation_id == reservation.donation_id,
            PoolStock.reserved >= reservation.quantity,
        )
        .values(reserved=PoolStock.reserved - reservation.quantity)
        .execution_options(synchronize_session=False)
    )


def reservation_by_code(session: Session, actor: User, code: str) -> PoolReservation:
    code = (code or "").strip().upper().replace(" ", "").replace("-", "")
    reservation = None
    if len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET):
        reservation = session.scalar(select(PoolReservation).where(PoolReservation.code == code))
    if reservation is None or not _caseworker_for(actor, reservation.donation.district_code):
        raise NotFound(_l("This code is not valid here."))
    return reservation


def hand_out(session: Session, actor: User, code: str) -> PoolReservation:
    """The station hands the goods over against the code, once."""
    reservation = reservation_by_code(session, actor, code)
    if reservation.status is not ReservationStatus.RESERVED:
        raise Conflict(_l("This code was already used, cancelled or has expired."))
    try:
        RESERVATION.apply(
            session,
            reservation,
            "hand_out",
            actor,
            handed_out_at=utcnow(),
            handed_out_by_id=actor.id,
        )
    except InvalidTransition:
        raise Conflict(_l("This code was already used, cancelled or has expired.")) from None
    return reservation


def cancel_reservation(session: Session, actor: User, reservation: PoolReservation) -> None:
    RESERVATION.apply(session, reservation, "cancel", actor)
    _free(session, reservation)
    session.flush()


def expire_reservations(session: Session, now: datetime | None = None) -> int:
    """Reservations not collected in time go back to the pool (the sweep)."""
    now = now or utcnow()
    overdue = session.scalars(
        select(PoolReservation)
        .where(
            PoolReservation.status == ReservationStatus.RESERVED,
            PoolReservation.expires_at < now,
        )
        .order_by(PoolReservation.id)
    ).all()
    expired = 0
    for reservation in overdue:
        try:
            RESERVATION.apply(session, reservation, "expire", None)
        except InvalidTransition:
            continue
        _free(session, reservation)
        expired += 1
    session.flush()
    return expired


def reservations_of_area(session: Session, actor: User, limit: int = 100) -> list[PoolReservation]:
    rows = session.scalars(
        select(PoolReservation).order_by(PoolReservation.created_at.desc()).limit(500)
    ).all()
    return [r for r in rows if actor.works_in(r.donation.district_code)][:limit]
