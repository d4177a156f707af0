"""Cash donations: the real stripe library against a local stand-in, signed webhooks."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.claims.models import Claim, ClaimStatus, DeliveryMethod
from app.needs.models import Need, NeedState
from app.payments import services as payments
from app.payments.models import CashDonation, CashStatus, StripeEvent
from app.points import services as points
from tests.factories import RepairFactory, UserFactory, need_in_state
from tests.stripe_standin import StripeStandIn


def wish(value=300):
    return need_in_state(NeedState.PUBLISHED, estimated_value_yuan=value)


def pay(session, standin: StripeStandIn, need, donor, yuan) -> CashDonation:
    donation = payments.start_checkout(session, need, donor, yuan)
    session.commit()
    return donation


def deliver_webhook(client, standin, payload: str, signature: str | None = None):
    return client.post(
        "/webhooks/stripe",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature or standin.sign(payload)},
    )


def test_without_keys_cash_is_visibly_unavailable(client, auth, session):
    need = wish()
    auth.login(UserFactory())
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert 'id="cash-unavailable"' in page and "payments/give" not in page
    response = client.post(f"/needs/{need.id}/give", data={"amount_yuan": "50"})
    assert response.status_code == 503
    assert session.scalar(select(func.count(CashDonation.id))) == 0


def test_checkout_session_request(session, stripe_enabled, no_mail):
    need = wish(300)
    donor = UserFactory()
    donation = pay(session, stripe_enabled, need, donor, 120)
    [request] = [r for r in stripe_enabled.requests if r.path == "/v1/checkout/sessions"]
    assert request.idempotency_key == f"checkout-{donation.receipt_number}"
    assert request.params["metadata"] == {"need_id": str(need.id), "donation_id": str(donation.id)}
    price = request.params["line_items"]["0"]["price_data"]
    assert price["unit_amount"] == "12000" and price["currency"] == "cny"
    assert request.params["success_url"].endswith("?session_id={CHECKOUT_SESSION_ID}")
    assert donation.status is CashStatus.PENDING and donation.checkout_session_id
    household = need.household
    assert household.name not in json.dumps(request.params, ensure_ascii=False)


@pytest.mark.parametrize("amount", ["0", "301", "abc", ""])
def test_bad_amounts_refused(client, auth, session, stripe_enabled, amount):
    need = wish(300)
    auth.login(UserFactory())
    response = client.post(f"/needs/{need.id}/give", data={"amount_yuan": amount})
    assert response.status_code == 422
    assert session.scalar(select(func.count(CashDonation.id))) == 0


def test_give_redirects_to_checkout(client, auth, session, stripe_enabled):
    need = wish(300)
    auth.login(UserFactory())
    response = client.post(f"/needs/{need.id}/give", data={"amount_yuan": "80"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(stripe_enabled.url + "/pay/cs_test_")


def test_same_webhook_ten_times_records_one_donation(client, session, stripe_enabled, no_mail):
    need = wish(300)
    donation = pay(session, stripe_enabled, need, UserFactory(), 100)
    payload = stripe_enabled.event(donation.checkout_session_id)
    answers = [deliver_webhook(client, stripe_enabled, payload).json for _ in range(10)]
    assert [a["duplicate"] for a in answers] == [False] + [True] * 9
    assert session.scalar(select(func.count(StripeEvent.id))) == 1
    donation = session.get(CashDonation, donation.id)
    assert donation.status is CashStatus.PAID and donation.paid_at is not None
    assert payments.funded_minor(session, session.get(Need, need.id)) == 10_000


def test_bad_signature_is_400_and_changes_nothing(client, session, stripe_enabled):
    need = wish(300)
    donation = pay(session, stripe_enabled, need, UserFactory(), 100)
    payload = stripe_enabled.event(donation.checkout_session_id)
    forged = stripe_enabled.sign(payload, secret="whsec_wrong")
    response = deliver_webhook(client, stripe_enabled, payload, forged)
    assert response.status_code == 400 and response.is_json
    assert client.post("/webhooks/stripe", data=payload).status_code == 400  # unsigned
    assert session.get(CashDonation, donation.id).status is CashStatus.PENDING
    assert session.scalar(select(func.count(StripeEvent.id))) == 0


def test_events_out_of_order(client, session, stripe_enabled, no_mail):
    need = wish(300)
    donation = pay(session, stripe_enabled, need, UserFactory(), 100)
    completed = stripe_enabled.event(donation.checkout_session_id)
    expired = stripe_enabled.event(donation.checkout_session_id, "checkout.session.expired")
    deliver_webhook(client, stripe_enabled, completed)
    deliver_webhook(client, stripe_enabled, expired)  # late and stale: ignored
    assert session.get(CashDonation, donation.id).status is CashStatus.PAID
    other = pay(session, stripe_enabled, session.get(Need, need.id), UserFactory(), 50)
    deliver_webhook(
        client,
        stripe_enabled,
        stripe_enabled.event(other.checkout_session_id, "checkout.session.expired"),
    )
    assert session.get(CashDonation, other.id).status is CashStatus.EXPIRED


def test_partial_gifts_add_up_and_fully_funded_need_is_claimed(
    client, auth, session, stripe_enabled, no_mail
):
    need = wish(300)
    first, second = UserFactory(), UserFactory()
    a = pay(session, stripe_enabled, need, first, 100)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(a.checkout_session_id))
    need = session.get(Need, need.id)
    assert need.state is NeedState.PUBLISHED
    assert payments.progress(session, need).remaining_minor == 20_000
    b = pay(session, stripe_enabled, need, second, 200)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(b.checkout_session_id))
    need = session.get(Need, need.id)
    assert need.state is NeedState.CLAIMED
    claim = session.scalar(select(Claim).where(Claim.need_id == need.id))
    assert claim.method is DeliveryMethod.CASH and claim.status is ClaimStatus.ACTIVE
    auth.login(session.get(User, need.created_by_id))
    page = client.get(f"/work/needs/{need.id}").get_data(as_text=True)
    assert 'id="cash-funded"' in page and "300" in page.split('id="cash-funded"')[1][:200]


def test_last_fifty_raced_by_two_donors_refunds_the_excess_once(
    client, session, stripe_enabled, no_mail
):
    need = wish(300)
    base = pay(session, stripe_enabled, need, UserFactory(), 250)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(base.checkout_session_id))
    need = session.get(Need, need.id)
    # Both see ¥50 missing and both pay before either webhook arrives.
    x = pay(session, stripe_enabled, need, UserFactory(), 50)
    y = pay(session, stripe_enabled, need, UserFactory(), 50)
    for donation in (x, y):
        deliver_webhook(client, stripe_enabled, stripe_enabled.event(donation.checkout_session_id))
    x, y = session.get(CashDonation, x.id), session.get(CashDonation, y.id)
    assert x.status is CashStatus.PAID
    assert y.status is CashStatus.REFUNDED and y.refunded_minor == 5000
    assert [(r["amount"], r["payment_intent"]) for r in stripe_enabled.refunds] == [
        (5000, y.payment_intent_id)
    ]
    refund_request = [r for r in stripe_enabled.requests if r.path == "/v1/refunds"][0]
    assert refund_request.idempotency_key == f"refund-{y.id}-to-5000"
    assert payments.funded_minor(session, session.get(Need, need.id)) == 30_000
    assert payments.send_due_refunds() == 0  # nothing left to send: no second refund
    assert len(stripe_enabled.refunds) == 1


def test_refund_retried_after_stripe_failure(client, session, stripe_enabled, no_mail):
    need = wish(100)
    a = pay(session, stripe_enabled, need, UserFactory(), 100)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(a.checkout_session_id))
    stripe_enabled.fail_refunds = True
    from app.needs.fulfilment import cancel_need

    need = session.get(Need, need.id)
    cancel_need(session, need, session.get(User, need.created_by_id), "家庭已搬走")
    session.commit()  # the refund is decided; sending it fails
    donation = session.get(CashDonation, a.id)
    assert donation.refund_due_minor == 10_000 and donation.refunded_minor == 0
    stripe_enabled.fail_refunds = False
    assert payments.send_due_refunds() == 1  # its own session and transaction
    session.expire_all()
    donation = session.get(CashDonation, a.id)
    assert donation.status is CashStatus.REFUNDED and donation.refund_due_minor == 0
    assert sum(r["amount"] for r in stripe_enabled.refunds) == 10_000
    assert payments.send_due_refunds() == 0


def test_cancelled_funded_need_refunds_everyone_once(client, session, stripe_enabled, no_mail):
    need = need_in_state(NeedState.PUBLISHED, RepairFactory, estimated_cost_yuan=500)
    gifts = [pay(session, stripe_enabled, need, UserFactory(), amount) for amount in (200, 100)]
    for gift in gifts:
        deliver_webhook(client, stripe_enabled, stripe_enabled.event(gift.checkout_session_id))
    from app.needs.fulfilment import cancel_need

    need = session.get(Need, need.id)
    cancel_need(session, need, session.get(User, need.created_by_id), "政府专项资金已覆盖")
    session.commit()
    assert sorted(r["amount"] for r in stripe_enabled.refunds) == [10_000, 20_000]
    assert all(session.get(CashDonation, g.id).status is CashStatus.REFUNDED for g in gifts)


def test_in_kind_claim_blocked_once_cash_started(client, session, stripe_enabled, no_mail):
    from app.claims.services import claim_need
    from app.errors import NotClaimable

    need = wish(300)
    a = pay(session, stripe_enabled, need, UserFactory(), 100)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(a.checkout_session_id))
    with pytest.raises(NotClaimable):
        claim_need(session, session.get(Need, need.id), UserFactory())


def test_confirmed_cash_need_gives_funders_points(client, session, stripe_enabled, no_mail):
    from app.claims import services as claims

    need = wish(300)
    donors = [UserFactory(), UserFactory()]
    for donor, amount in zip(donors, (100, 200), strict=True):
        gift = pay(session, stripe_enabled, session.get(Need, need.id), donor, amount)
        deliver_webhook(client, stripe_enabled, stripe_enabled.event(gift.checkout_session_id))
    need = session.get(Need, need.id)
    worker = session.get(User, need.created_by_id)
    claim = session.scalar(select(Claim).where(Claim.need_id == need.id))
    claims.mark_delivered(session, claim, worker, "社工已采购并送达")
    claims.confirm_delivery(session, claim, worker, follow_up_days=0)
    assert points.balance(session, points.Owner(user_id=donors[0].id)) == 10
    assert points.balance(session, points.Owner(user_id=donors[1].id)) == 20


def test_receipt_and_giving_history(client, auth, session, stripe_enabled, no_mail):
    need = wish(300)
    donor = UserFactory()
    gift = pay(session, stripe_enabled, need, donor, 100)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(gift.checkout_session_id))
    auth.login(donor)
    receipt = client.get(f"/payments/{gift.id}/receipt").get_data(as_text=True)
    assert gift.receipt_number in receipt and "¥100.00" in receipt
    assert gift.receipt_number in client.get("/me/giving").get_data(
        as_text=True
    ) or f"/payments/{gift.id}/receipt" in client.get("/me/giving").get_data(as_text=True)
    success = client.get(f"/payments/{gift.id}/success?session_id=x").get_data(as_text=True)
    assert "payment-state" in success
    auth.logout()
    auth.login(UserFactory())
    assert client.get(f"/payments/{gift.id}/receipt").status_code == 403


def _funded(client, session, stripe_enabled, value=100):
    need = wish(value)
    donor = UserFactory()
    gift = pay(session, stripe_enabled, need, donor, value)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(gift.checkout_session_id))
    need = session.get(Need, need.id)
    claim = session.scalar(select(Claim).where(Claim.need_id == need.id))
    return need, donor, claim


def test_cash_claim_cannot_be_withdrawn_released_or_lapse(
    client, auth, session, stripe_enabled, no_mail
):
    from datetime import timedelta

    from app.claims import services as claims
    from app.errors import Conflict
    from app.supervision.sweep import sweep

    need, donor, claim = _funded(client, session, stripe_enabled)
    auth.login(donor)
    page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert 'data-action="withdraw"' not in page
    assert client.post(f"/claims/{claim.id}/withdraw", data={"note": "x"}).status_code == 409
    with pytest.raises(Conflict):
        claims.release_claim(
            session, session.get(Claim, claim.id), session.get(User, need.created_by_id), "不要了"
        )
    report = sweep(session, now=claim.due_at + timedelta(days=1))
    assert report.claims_lapsed == 0
    need = session.get(Need, need.id)
    assert need.state is NeedState.CLAIMED and need.light.value == "red"


def test_expired_need_refunds_partial_cash(client, session, stripe_enabled, no_mail):
    from datetime import timedelta

    from app.models_base import local_today
    from app.supervision.sweep import sweep

    need = wish(300)
    gift = pay(session, stripe_enabled, need, UserFactory(), 100)
    deliver_webhook(client, stripe_enabled, stripe_enabled.event(gift.checkout_session_id))
    session.execute(
        Need.__table__.update()
        .where(Need.id == need.id)
        .values(deadline=local_today() - timedelta(days=1))
    )
    sweep(session)
    session.commit()
    session.expire_all()
    assert session.get(Need, need.id).state is NeedState.EXPIRED
    assert session.get(CashDonation, gift.id).status is CashStatus.REFUNDED
    assert [r["amount"] for r in stripe_enabled.refunds] == [10_000]


def test_unicode_digits_are_not_an_amount(client, auth, session, stripe_enabled):
    need = wish(300)
    auth.login(UserFactory())
    for amount in ("²", "１２", "9" * 30):
        assert (
            client.post(f"/needs/{need.id}/give", data={"amount_yuan": amount}).status_code == 422
        )
