"""The sweep: lapses overdue claims, expires stale needs, turns lights, and tells people.

Run by ``flask --app wsgi sweep``, and as a recurring RQ job when ``REDIS_URL`` is set.
Idempotent: running it twice in a row changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.claims import services as claim_services
from app.claims.models import Claim, ClaimStatus, DeliveryMethod
from app.households.services import turn_household_lights
from app.intake.services import mark_helped_applications
from app.localtime import local_date
from app.models_base import local_today, utcnow
from app.needs import lifecycle
from app.needs.models import Light, Need, NeedState
from app.supervision.lights import refresh_light
from app.uploads.services import remove_orphans

log = logging.getLogger(__name__)

# A delivered claim waits on the caseworker, not on the claimer: it never lapses.
_LAPSING = (ClaimStatus.PENDING, ClaimStatus.ACTIVE, ClaimStatus.DISPUTED)
_LIT_STATES = (
    NeedState.SUBMITTED,
    NeedState.PUBLISHED,
    NeedState.CLAIMED,
    NeedState.DELIVERED,
    NeedState.CONFIRMED,
)


@dataclass
class SweepReport:
    claims_lapsed: int = 0
    needs_expired: int = 0
    turned_red: int = 0
    lights_checked: int = 0
    households_checked: int = 0
    household_lights_changed: int = 0
    applications_helped: int = 0
    # One line from each domain that did its periodic work on ``events.sweep_running``.
    domains: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"claims lapsed: {self.claims_lapsed}, needs expired: {self.needs_expired}, "
            f"lights checked: {self.lights_checked}, turned red: {self.turned_red}, "
            f"households checked: {self.households_checked}, "
            f"household lights changed: {self.household_lights_changed}, "
            f"applications helped: {self.applications_helped}"
            + "".join(f"; {line}" for line in self.domains)
        )


def release_overdue_claims(session: Session, now: datetime, report: SweepReport) -> None:
    overdue = session.scalars(
        select(Claim)
        .where(
            Claim.status.in_(_LAPSING),
            Claim.due_at < now,
            # Paid in cash, the caseworker buys: it turns red, it never lapses.
            Claim.method != DeliveryMethod.CASH,
        )
        .order_by(Claim.id)
    ).all()
    for claim in overdue:
        need = claim.need
        reason = str(_l("Not delivered by %(due)s.", due=local_date(claim.due_at)))
        claim_services.lapse_claim(session, claim, reason, now)
        lifecycle.transition(
            session,
            need,
            "lapse",
            None,
            note=reason,
            claimant_id=None,
            claimant_org_id=None,
            overdue_at=now,
        )
        report.claims_lapsed += 1


def expire_stale_needs(session: Session, report: SweepReport) -> None:
    """Published needs whose deadline passed with nobody claiming them."""
    stale = session.scalars(
        select(Need).where(Need.state == NeedState.PUBLISHED, Need.deadline < local_today())
    ).all()
    for need in stale:
        lifecycle.transition(
            session, need, "expire", None, note=str(_l("The deadline passed without a claim."))
        )
        report.needs_expired += 1


def turn_lights(session: Session, now: datetime, report: SweepReport) -> None:
    needs = session.scalars(select(Need).where(Need.state.in_(_LIT_STATES))).all()
    for need in needs:
        was_red = need.light is Light.RED
        turned_red = refresh_light(session, need, now)
        report.lights_checked += 1
        if turned_red and not was_red:
            report.turned_red += 1
            events.emit(events.light_turned_red, session=session, need=need)


def sweep(session: Session, now: datetime | None = None) -> SweepReport:
    """One pass of supervision. The caller commits; emails go out after that."""
    now = now or utcnow()
    report = SweepReport()
    release_overdue_claims(session, now, report)
    expire_stale_needs(session, report)
    turn_lights(session, now, report)
    # Households: visits due, scores, lights (announced through events); applications
    # whose need was confirmed become "helped".
    report.households_checked, report.household_lights_changed = turn_household_lights(session, now)
    report.applications_helped = mark_helped_applications(session)
    # Other domains (offers, ...) do their periodic work without the sweep importing them.
    report.domains = [
        str(line) for line in events.emit(events.sweep_running, session=session, now=now) if line
    ]
    remove_orphans(session)  # photos of uploads whose request rolled back
    session.flush()
    from app.search_index import schedule_delivery

    schedule_delivery(session)  # also what waited while the search engine was down
    log.info("sweep: %s", report)
    return report
