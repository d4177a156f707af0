"""Points follow confirmed help: awards when help or a donation is confirmed, counter-entries
when a confirmation is withdrawn; for the people who visit (郁南), awards for logged visits
(taken back when a supervisor rejects one) and for agents' applications that became help.
The services that confirm know nothing of points."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from app import events
from app.donations.models import Donation
from app.needs.models import Need, NeedEvent
from app.points import services


@events.help_confirmed.connect
def award_confirmed_help(
    sender: object,
    *,
    session: Session,
    need: Need,
    need_event: NeedEvent,
    was_red: bool,
    **_: Any,
) -> None:
    services.award_for_confirmation(session, need, need_event, had_red=was_red)


@events.donation_received.connect
def award_received_donation(
    sender: object, *, session: Session, donation: Donation, **_: Any
) -> None:
    services.award_for_donation(session, donation)


@events.need_transitioned.connect
def reverse_withdrawn_confirmation(
    sender: object, *, session: Session, need: Need, event: NeedEvent, **_: Any
) -> None:
    if event.action == "unconfirm":
        services.reverse_confirmation(session, need)


@events.visit_logged.connect
def award_for_visit(sender: Any, *, session: Any, visit: Any, **_: Any) -> None:
    services.award_for_work(
        session,
        visit.visitor_id,
        rule="visit",
        amount=int(current_app.config["POINTS_PER_VISIT"]),
        source_kind="visit",
        source_id=visit.id,
        reason="visit logged",
        district_code=visit.household.district_code,
    )


@events.status_changed.connect
def follow_reviews(
    sender: Any, *, session: Any, obj: Any, event: Any, machine: str, **_: Any
) -> None:
    """A rejected visit loses its points and a reinstated one earns them again; an
    application that became confirmed help earns its agent points."""
    if machine == "visit" and event.action == "reject":
        services.reverse_work(session, "visit", obj.id, "visit rejected")
    elif machine == "visit" and event.action == "reinstate":
        services.award_for_work(
            session,
            obj.visitor_id,
            rule="visit",
            amount=int(current_app.config["POINTS_PER_VISIT"]),
            source_kind="visit",
            source_id=obj.id,
            reason="visit reinstated",
            district_code=obj.household.district_code,
            sub_key=f"e{event.id}",
        )
    elif machine == "application" and event.action == "helped":
        services.award_for_work(
            session,
            obj.agent_id,
            rule="application",
            amount=int(current_app.config["POINTS_PER_APPLICATION"]),
            source_kind="application",
            source_id=obj.id,
            reason="application became confirmed help",
            district_code=obj.district_code,
        )


@events.pickup_redeemed.connect
def award_provider_for_pickup(sender: object, **kw: Any) -> None:
    """A provider's pickup code was redeemed: the help really happened (M餐)."""
    offer = kw["offer"]
    services.award_for_pickup(
        kw["session"], kw["booking"].id, offer.organisation_id, offer.district_code
    )
