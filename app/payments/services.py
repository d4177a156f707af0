"""Cash donations: pledge, pay on Stripe Checkout, count toward the goal, refund exactly once.

Stripe calls happen outside our transactions: a Checkout Session is created before the
donation row is committed (with an idempotency key derived from the row), and refunds are
decided inside a transaction (``refund_due_minor``) and sent after it commits, each with
an idempotency key, so a retry can never refund twice.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Role, User
from app.claims.services import open_cash_claim
from app.errors import Conflict, DomainError, NotAllowed, ValidationFailed
from app.extensions import db, run_after_commit
from app.models_base import utcnow
from app.needs.models import Need, NeedKind, NeedState
from app.payments.models import CASH, COUNTING, CashDonation, CashStatus, StripeEvent
from app.urls import site_url

log = logging.getLogger(__name__)

MIN_DONATION_MINOR = 100  # ¥1


class PaymentsUnavailable(DomainError):
    status = 503


class InvalidSignature(DomainError):
    status = 400


def enabled() -> bool:
    """Cash donation needs Stripe keys; without them it is shown as unavailable."""
    config = current_app.config
    return bool(config["STRIPE_SECRET_KEY"] and config["STRIPE_WEBHOOK_SECRET"])


def client() -> stripe.StripeClient:
    config = current_app.config
    if not enabled():
        raise PaymentsUnavailable(_l("Cash donations are not available on this site."))
    options: dict[str, Any] = {"max_network_retries": 2}
    if config["STRIPE_API_BASE"]:
        options["base_addresses"] = {"api": config["STRIPE_API_BASE"]}
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], **options)


# --- goals and progress ----------------------------------------------------------------


def goal_minor(need: Need) -> int:
    """What the need costs, in the smallest unit; 0 when it cannot take cash."""
    if need.kind is NeedKind.MICRO_WISH:
        return (need.estimated_value_yuan or 0) * 100
    if need.kind is NeedKind.REPAIR:
        return (need.estimated_cost_yuan or 0) * 100
    return 0


def funded_minor(session: Session, need: Need) -> int:
    """Paid money the need keeps (refunds decided or done are not counted)."""
    kept = CashDonation.amount_minor - CashDonation.refunded_minor - CashDonation.refund_due_minor
    return int(
        session.scalar(
            select(func.coalesce(func.sum(kept), 0)).where(
                CashDonation.need_id == need.id, CashDonation.status.in_(COUNTING)
            )
        )
        or 0
    )


@dataclass
class Progress:
    goal_minor: int
    funded_minor: int
    donors: int

    @property
    def remaining_minor(self) -> int:
        return max(0, self.goal_minor - self.funded_minor)

    @property
    def percent(self) -> int:
        return min(100, self.funded_minor * 100 // self.goal_minor) if self.goal_minor else 0


def progress(session: Session, need: Need) -> Progress:
    donors = (
        session.scalar(
            select(func.count(func.distinct(CashDonation.donor_id))).where(
                CashDonation.need_id == need.id, CashDonation.status.in_(COUNTING)
            )
        )
        or 0
    )
    return Progress(goal_minor(need), funded_minor(session, need), int(donors))


def can_take_cash(session: Session, need: Need) -> bool:
    return (
        need.state is NeedState.PUBLISHED
        and goal_minor(need) > 0
        and progress(session, need).remaining_minor > 0
    )


# --- pledging --------------------------------------------------------------------------


def start_checkout(session: Session, need: Need, donor: User, amount_yuan: int) -> CashDonation:
    """Create the donation and its Stripe Checkout Session; returns the donation whose
    ``checkout_url`` attribute is where to send the donor."""
    if not donor.has_role(Role.DONOR, Role.COMPANY, Role.TEAM):
        raise NotAllowed(_l("Only donors, companies and teams can give money."))
    if not can_take_cash(session, need):
        raise Conflict(_l("This need is not taking cash donations now."))
    remaining = progress(session, need).remaining_minor
    amount_minor = amount_yuan * 100
    if amount_minor < MIN_DONATION_MINOR or amount_minor > remaining:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {
                "amount_yuan": [
                    str(
                        _l(
                            "Give between ¥1 and ¥%(max)s, what is still missing.",
                            max=remaining // 100,
                        )
                    )
                ]
            },
        )
    config = current_app.config
    donation = CashDonation(
        need_id=need.id,
        donor_id=donor.id,
        amount_minor=amount_minor,
        currency=config["CURRENCY"],
        status=CashStatus.PENDING,
        receipt_number=f"SL{utcnow():%Y%m%d}{secrets.token_hex(4).upper()}",
    )
    session.add(donation)
    session.flush()
    checkout = client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": donation.currency,
                        "unit_amount": amount_minor,
                        "product_data": {"name": f"善联 #{need.id}: {need.title}"[:120]},
                    },
                }
            ],
            "success_url": site_url("payments.success", donation_id=donation.id)
            + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": site_url("payments.cancelled", donation_id=donation.id),
            "client_reference_id": str(donation.id),
            "metadata": {"need_id": str(need.id), "donation_id": str(donation.id)},
            "payment_intent_data": {
                "metadata": {"need_id": str(need.id), "donation_id": str(donation.id)}
            },
        },
        options={"idempotency_key": f"checkout-{donation.receipt_number}"},
    )
    donation.checkout_session_id = checkout.id
    session.flush()
    donation.checkout_url = checkout.url  # type: ignore[attr-defined]
    return donation


# --- webhooks --------------------------------------------------------------------------


def verify_event(payload: bytes, signature: str | None) -> Any:
    """The event, or ``InvalidSignature`` (400) when the signature is not Stripe's."""
    if not enabled():
        raise PaymentsUnavailable(_l("Cash donations are not available on this site."))
    try:
        return stripe.Webhook.construct_event(
            payload, signature, current_app.config["STRIPE_WEBHOOK_SECRET"]
        )
    except (ValueError, stripe.SignatureVerificationError):
        raise InvalidSignature(_l("Invalid webhook signature.")) from None


def handle_event(session: Session, event: Any) -> bool:
    """Apply one webhook event, once. False when it was seen before (nothing changes)."""
    if hasattr(event, "to_dict"):
        event = event.to_dict()  # stripe objects are not dicts; work with plain data
    if session.get(StripeEvent, event["id"]) is not None:
        return False
    session.add(StripeEvent(id=event["id"], type=event["type"]))
    session.flush()  # a concurrent duplicate fails here on the primary key
    obj = event["data"]["object"]
    kind = event["type"]
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") in ("paid", "no_payment_required"):
            _paid(session, obj)
    elif kind == "checkout.session.expired":
        _ended(session, obj, CashStatus.EXPIRED)
    elif kind == "checkout.session.async_payment_failed":
        _ended(session, obj, CashStatus.FAILED)
    elif kind == "charge.refunded":
        _refund_seen(session, obj)
    return True


def _donation_for(session: Session, checkout: Any) -> CashDonation | None:
    donation_id = str((checkout.get("metadata") or {}).get("donation_id") or "")
    donation = session.get(CashDonation, int(donation_id)) if donation_id.isdigit() else None
    if donation is None or donation.checkout_session_id != checkout.get("id"):
        log.warning("webhook for an unknown checkout session %s", checkout.get("id"))
        return None
    return donation


def _lock_need(session: Session, need_id: int) -> Need:
    """Payments for one need are applied one at a time (PostgreSQL row lock; SQLite's
    write transactions are serial already)."""
    need = session.scalar(select(Need).where(Need.id == need_id).with_for_update())
    assert need is not None
    session.refresh(need)
    return need


def _paid(session: Session, checkout: Any) -> None:
    donation = _donation_for(session, checkout)
    if donation is None or donation.status is not CashStatus.PENDING:
        return  # out of order or already applied: never move a donation backwards
    need = _lock_need(session, donation.need_id)
    before = funded_minor(session, need)
    CASH.apply(
        session,
        donation,
        "pay",
        None,
        paid_at=utcnow(),
        payment_intent_id=checkout.get("payment_intent"),
    )
    goal = goal_minor(need)
    # Two donors racing for the last ¥50 both pay; the excess goes back, exactly once.
    excess = max(0, before + donation.amount_minor - goal)
    if need.state is not NeedState.PUBLISHED:
        excess = donation.amount_minor  # the need no longer takes money at all
    if excess:
        _decide_refund(session, donation, min(excess, donation.amount_minor), "excess")
    if need.state is NeedState.PUBLISHED and funded_minor(session, need) >= goal > 0:
        _fully_funded(session, need, donation)
    events.emit(events.payment_succeeded, session=session, cash=donation)


def _fully_funded(session: Session, need: Need, last: CashDonation) -> None:
    open_cash_claim(session, need, last.donor)  # announces itself ("fund"): lights, mail


def _ended(session: Session, checkout: Any, status: CashStatus) -> None:
    donation = _donation_for(session, checkout)
    if donation is not None and donation.status is CashStatus.PENDING:
        CASH.apply(session, donation, "expire" if status is CashStatus.EXPIRED else "fail", None)


def _refund_seen(session: Session, charge: Any) -> None:
    """Stripe reports a refund (ours, or one made in its dashboard)."""
    intent = charge.get("payment_intent")
    donation = session.scalar(select(CashDonation).where(CashDonation.payment_intent_id == intent))
    if donation is None:
        return
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded > donation.refunded_minor:
        extra = refunded - donation.refunded_minor
        donation.refund_due_minor = max(0, donation.refund_due_minor - extra)
        donation.refunded_minor = min(refunded, donation.amount_minor)
        _set_refund_status(session, donation)


# --- refunds ---------------------------------------------------------------------------


def _decide_refund(session: Session, donation: CashDonation, amount: int, reason: str) -> None:
    amount = min(
        amount, donation.amount_minor - donation.refunded_minor - donation.refund_due_minor
    )
    if amount <= 0:
        return
    donation.refund_due_minor += amount
    donation.refund_reason = reason
    session.flush()
    run_after_commit(session, _send_refunds_soon)


def _send_refunds_soon() -> None:
    try:
        send_due_refunds()
    except Exception:  # noqa: BLE001 - retried by the sweep; never breaks the request
        log.exception("sending refunds failed; the sweep will retry")


def refund_for_cancelled_need(session: Session, need: Need) -> int:
    """A funded need was cancelled: everything paid goes back. Returns donations affected."""
    donations = session.scalars(
        select(CashDonation).where(
            CashDonation.need_id == need.id, CashDonation.status.in_(COUNTING)
        )
    ).all()
    for donation in donations:
        _decide_refund(session, donation, donation.kept_minor, "cancelled")
    return len(donations)


def send_due_refunds() -> int:
    """Send every decided refund to Stripe, in its own transaction per donation."""
    sent = 0
    session = db.session_factory()
    try:
        due = session.scalars(select(CashDonation.id).where(CashDonation.refund_due_minor > 0))
        for donation_id in list(due):
            donation = session.get(CashDonation, donation_id)
            if donation is None or donation.refund_due_minor <= 0:
                continue
            target = donation.refunded_minor + donation.refund_due_minor
            try:
                client().v1.refunds.create(
                    params={
                        "payment_intent": donation.payment_intent_id or "",
                        "amount": donation.refund_due_minor,
                        "metadata": {
                            "donation_id": str(donation.id),
                            "reason": donation.refund_reason,
                        },
                    },
                    # The same decision always carries the same key: never refunded twice.
                    options={"idempotency_key": f"refund-{donation.id}-to-{target}"},
                )
            except stripe.StripeError:
                log.warning("refund for cash donation %s failed; will retry", donation.id)
                session.rollback()
                continue
            donation.refunded_minor = target
            donation.refund_due_minor = 0
            donation.refunded_at = utcnow()
            _set_refund_status(session, donation)
            events.emit(events.refund_sent, session=session, cash=donation)
            session.commit()
            sent += 1
    finally:
        session.close()
    return sent


def _set_refund_status(session: Session, donation: CashDonation) -> None:
    if donation.refunded_minor >= donation.amount_minor:
        action, target = "refund", CashStatus.REFUNDED
    elif donation.refunded_minor > 0:
        action, target = "refund_part", CashStatus.PARTLY_REFUNDED
    else:
        return
    if donation.status is not target:
        CASH.apply(session, donation, action, None)


# --- reading ---------------------------------------------------------------------------


def giving_history(session: Session, donor: User) -> list[CashDonation]:
    return list(
        session.scalars(
            select(CashDonation)
            .where(CashDonation.donor_id == donor.id)
            .order_by(CashDonation.id.desc())
        )
    )


def cash_donations_for(session: Session, need: Need) -> list[CashDonation]:
    return list(
        session.scalars(
            select(CashDonation).where(CashDonation.need_id == need.id).order_by(CashDonation.id)
        )
    )


def can_view_receipt(donation: CashDonation, user: User) -> bool:
    return user.is_authenticated and (
        donation.donor_id == user.id or donation.need.can_view_private(user)
    )
