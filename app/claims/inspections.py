"""Spot inspections of repairs (at least 30% of jobs, drawn when claimed) by a supervisor."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.claims import services
from app.claims.models import LIVE_CLAIM_STATUSES, Claim, ClaimStatus
from app.errors import Conflict, NotAllowed, ValidationFailed
from app.models_base import utcnow
from app.needs import lifecycle


def record_inspection(session: Session, claim: Claim, actor: User, passed: bool, note: str) -> None:
    """A supervisor's spot inspection of a repair, during or after the works."""
    need = claim.need
    if not actor.is_verifier_for(need.district_code):
        raise NotAllowed(_l("Only a supervisor of this area can record an inspection."))
    if not claim.inspection_required:
        raise Conflict(_l("This repair was not drawn for inspection."))
    services.require_live(claim, ClaimStatus.ACTIVE, ClaimStatus.DELIVERED, ClaimStatus.DISPUTED)
    if not passed and not note.strip():
        raise ValidationFailed(
            _l("Please give a reason."), {"note": [str(_l("A reason is required."))]}
        )
    claim.inspected_at = utcnow()
    claim.inspected_by_id = actor.id
    claim.inspection_passed = passed
    claim.inspection_note = note.strip()[:500]
    session.flush()
    lifecycle.touch(session, need)


def inspections_due(session: Session, actor: User) -> list[Claim]:
    claims = session.scalars(
        select(Claim)
        .where(
            Claim.inspection_required,
            Claim.inspection_passed.is_not(True),
            Claim.status.in_(LIVE_CLAIM_STATUSES),
        )
        .order_by(Claim.created_at)
    )
    return [c for c in claims if actor.works_in(c.need.district_code)]
