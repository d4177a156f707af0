"""Household lights: is the household seen on schedule, and is what was found acted on?

green  - visits on schedule and nothing waits
yellow - a visit is due within HOUSEHOLD_DUE_SOON_DAYS, or a need found on a visit has no
         draft after HOUSEHOLD_FOUND_NO_DRAFT_DAYS
red    - a visit is overdue, or a need found on a visit has had no help for
         HOUSEHOLD_FOUND_NO_HELP_DAYS

Pure rules (``compute``) and the facts they read (``facts_for``); the sweep turns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.households.models import Visit, VisitStatus
from app.needs.models import Household, Light, Need, NeedState

HELPED = (NeedState.CONFIRMED, NeedState.CLOSED)


@dataclass(frozen=True)
class LightFacts:
    visit_due_on: date | None
    # When the oldest found need without a draft was found, and the oldest found need
    # that has a draft but no help yet.
    found_without_draft_since: datetime | None
    found_without_help_since: datetime | None


def compute(facts: LightFacts, now: datetime, today: date, config: Any) -> tuple[Light, str]:
    if facts.visit_due_on is not None and facts.visit_due_on < today:
        return Light.RED, "visit_overdue"
    waiting = [t for t in (facts.found_without_draft_since, facts.found_without_help_since) if t]
    if waiting and now - min(waiting) > timedelta(days=config["HOUSEHOLD_FOUND_NO_HELP_DAYS"]):
        return Light.RED, "found_need_no_help"
    if facts.visit_due_on is not None and facts.visit_due_on <= today + timedelta(
        days=config["HOUSEHOLD_DUE_SOON_DAYS"]
    ):
        return Light.YELLOW, "visit_due_soon"
    if facts.found_without_draft_since is not None and now - facts.found_without_draft_since > (
        timedelta(days=config["HOUSEHOLD_FOUND_NO_DRAFT_DAYS"])
    ):
        return Light.YELLOW, "found_need_no_draft"
    return Light.GREEN, "on_schedule"


def facts_for(session: Session, household: Household) -> LightFacts:
    found = session.execute(
        select(Visit.visited_at, Visit.draft_need_id, Need.state)
        .outerjoin(Need, Need.id == Visit.draft_need_id)
        .where(
            Visit.household_id == household.id,
            Visit.need_found.is_(True),
            Visit.status == VisitStatus.LOGGED,
        )
    ).all()
    no_draft = [at for at, need_id, _ in found if need_id is None]
    no_help = [
        at
        for at, need_id, state in found
        if need_id is not None and state not in HELPED and state is not NeedState.CANCELLED
    ]
    return LightFacts(
        visit_due_on=household.visit_due_on,
        found_without_draft_since=min(no_draft) if no_draft else None,
        found_without_help_since=min(no_help) if no_help else None,
    )
