"""Who is told what, when something happens elsewhere. The services that change state send
a signal (:mod:`app.events`) and know nothing of this module. Household lights and
decisions on agents' applications are told here too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Role, User
from app.claims.models import Claim
from app.donations.models import Donation
from app.labels import LABELS, household_light_reason
from app.needs.models import Light, Need, NeedEvent
from app.notifications.services import Kind, notify
from app.payments.models import CashDonation
from app.places import gazetteer
from app.shifts.models import Shift, ShiftSignup
from app.urls import site_url

# A claim's move -> (who hears of it, what they are told). "caseworker": the need's author.
_CLAIM_NEWS: dict[str, tuple[tuple[str, ...], Kind]] = {
    "claim": (("caseworker",), Kind.CLAIMED),
    "fund": (("caseworker",), Kind.FULLY_FUNDED),
    "accept": (("claimer",), Kind.CLAIM_ACCEPTED),
    "withdraw": (("caseworker",), Kind.WITHDRAWN),
    "release": (("claimer",), Kind.RELEASED),
    "deliver": (("caseworker",), Kind.DELIVERED),
    "dispute": (("claimer",), Kind.DISPUTED),
    "lapse": (("claimer", "caseworker"), Kind.OVERDUE),
}


@events.claim_transitioned.connect
def tell_about_claim(
    sender: object, *, session: Session, claim: Claim, action: str, reason: str, **_: Any
) -> None:
    news = _CLAIM_NEWS.get(action)
    if news is None:
        return
    who, kind = news
    params = {"reason": reason} if kind in (Kind.RELEASED, Kind.DISPUTED) else {}
    for role in who:
        user = claim.claimant if role == "claimer" else claim.need.created_by
        notify(session, user, kind, claim.need, **params)


@events.help_confirmed.connect
def tell_claimer_confirmed(sender: object, *, session: Session, need: Need, **_: Any) -> None:
    """The claimer (for farm help, the leading team's leader) hears the help counted."""
    if need.claimant is not None:
        notify(session, need.claimant, Kind.CONFIRMED, need)


@events.need_transitioned.connect
def tell_caseworker_expired(
    sender: object, *, session: Session, need: Need, event: NeedEvent, **_: Any
) -> None:
    if event.action == "expire":
        notify(session, need.created_by, Kind.EXPIRED, need)


@events.light_turned_red.connect
def tell_caseworker_red(sender: object, *, session: Session, need: Need, **_: Any) -> None:
    notify(session, need.created_by, Kind.TURNED_RED, need, reason=need.light_reason)


@events.shift_booked.connect
def tell_about_booking(
    sender: object,
    *,
    session: Session,
    shift: Shift,
    signups: list[ShiftSignup],
    actor: User,
    leader: User,
    **_: Any,
) -> None:
    """The team's leader when someone else booked the team; the caseworker unless they
    booked it themselves."""
    need = shift.need
    if leader.id != actor.id:
        notify(session, leader, Kind.SIGNUP, need)
    if need.created_by_id != actor.id:
        notify(session, need.created_by, Kind.SIGNUP, need)


@events.donation_logged.connect
def tell_caseworker_donation(
    sender: object, *, session: Session, donation: Donation, **_: Any
) -> None:
    if donation.need is not None:
        notify(session, donation.need.created_by, Kind.DONATION_LOGGED, donation.need)


@events.donation_received.connect
def tell_company_received(
    sender: object, *, session: Session, donation: Donation, **_: Any
) -> None:
    for member in donation.organisation.memberships:
        notify(session, member.user, Kind.DONATION_RECEIVED, donation.need, item=donation.item)


@events.payment_succeeded.connect
def tell_donor_paid(sender: object, *, session: Session, cash: CashDonation, **_: Any) -> None:
    notify(session, cash.donor, Kind.CASH_RECEIVED, cash.need)


@events.refund_sent.connect
def tell_donor_refunded(sender: object, *, session: Session, cash: CashDonation, **_: Any) -> None:
    notify(session, cash.donor, Kind.CASH_REFUNDED, cash.need)


def supervisors_of(session: Any, district_code: str) -> list[User]:
    verifiers = session.scalars(
        select(User).where(User.role == Role.VERIFIER, User.is_active_account.is_(True))
    ).all()
    return [v for v in verifiers if v.area_code and gazetteer.covers(v.area_code, district_code)]


@events.household_light_changed.connect
def tell_about_household_light(
    sender: Any, *, session: Any, household: Any, old: Light, new: Light, **_: Any
) -> None:
    """The caseworker hears of every change; supervisors of the area hear of red."""
    people = [household.created_by] if household.created_by is not None else []
    if new is Light.RED:
        people += [s for s in supervisors_of(session, household.district_code) if s not in people]
    link = site_url("work.household", household_id=household.id)
    for person in people:
        notify(
            session,
            person,
            Kind.HOUSEHOLD_LIGHT,
            ref=household.id,
            colour=LABELS[new],
            why=household_light_reason(household.light_reason),
            link=link,
        )


@events.status_changed.connect
def tell_agent_about_decision(
    sender: Any, *, session: Any, obj: Any, event: Any, machine: str, **_: Any
) -> None:
    if machine != "application" or event.action not in {"accept", "return"}:
        return
    link = site_url("intake.agent_application", application_id=obj.id)
    if event.action == "accept":
        notify(session, obj.agent, Kind.APPLICATION_ACCEPTED, ref=obj.id, link=link)
    else:
        notify(
            session, obj.agent, Kind.APPLICATION_RETURNED, ref=obj.id, reason=event.note, link=link
        )


@events.offer_paused.connect
def tell_provider_offer_paused(sender: object, *, session: Session, offer: Any, **_: Any) -> None:
    """A lapsed licence or hygiene permit paused a meal offer: its admins hear of it."""
    from app.accounts.models import MemberRole

    for membership in offer.organisation.memberships:
        if membership.role is MemberRole.ADMIN:
            notify(session, membership.user, Kind.OFFER_PAUSED, title=offer.title)
