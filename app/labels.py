"""Human names of every enum value, translated. Templates call ``label(value)``."""

from __future__ import annotations

import enum
from typing import Any

from flask_babel import lazy_gettext as _l

from app.accounts.models import MemberRole, OrgKind, OrgStatus, Role
from app.claims.models import ClaimStatus, DeliveryMethod
from app.donations.models import DonationStatus
from app.households.models import AreaLevel, Finding, LifeEvent, Relation, VisitMethod, VisitStatus
from app.intake.models import ApplicationStatus
from app.needs.models import (
    Assistance,
    CareCategory,
    ConsentScope,
    Light,
    NeedKind,
    NeedState,
    PersonGroup,
    RepairCategory,
    Skill,
    Urgency,
)
from app.offers.models import (
    BookingStatus,
    OfferKind,
    OfferStatus,
    PauseReason,
    ReservationStatus,
)
from app.payments.models import CashStatus
from app.points.models import RedemptionStatus
from app.shifts.models import SignupStatus

LABELS: dict[enum.Enum, Any] = {
    Role.DONOR: _l("Donor"),
    Role.COMPANY: _l("Company"),
    Role.TEAM: _l("Volunteer team"),
    Role.CASEWORKER: _l("Caseworker"),
    Role.VERIFIER: _l("Verifier / supervisor"),
    Role.ADMIN: _l("Site admin"),
    Role.RECIPIENT: _l("Person in hardship"),
    OfferKind.MEAL: _l("Meals"),
    OfferKind.GOODS: _l("Goods"),
    OfferKind.SERVICE: _l("Service"),
    OfferStatus.ACTIVE: _l("Taking bookings"),
    OfferStatus.PAUSED: _l("Paused"),
    OfferStatus.ENDED: _l("Ended"),
    BookingStatus.BOOKED: _l("Waiting for pickup"),
    BookingStatus.REDEEMED: _l("Picked up"),
    BookingStatus.CANCELLED: _l("Cancelled"),
    BookingStatus.NO_SHOW: _l("Not picked up"),
    ReservationStatus.RESERVED: _l("Reserved"),
    ReservationStatus.HANDED_OUT: _l("Handed out"),
    ReservationStatus.CANCELLED: _l("Cancelled"),
    ReservationStatus.EXPIRED: _l("Not collected"),
    PauseReason.NONE: _l("—"),
    PauseReason.PROVIDER: _l("Paused by the provider"),
    PauseReason.PERMIT: _l("Permit lapsed"),
    OrgKind.COMPANY: _l("Company"),
    OrgKind.TEAM: _l("Volunteer team"),
    OrgStatus.PENDING: _l("Awaiting verification"),
    OrgStatus.VERIFIED: _l("Verified"),
    OrgStatus.REJECTED: _l("Not approved"),
    MemberRole.MEMBER: _l("Member"),
    MemberRole.ADMIN: _l("Admin / leader"),
    PersonGroup.POOR_STUDENT: _l("Student from a poor family"),
    PersonGroup.UNEMPLOYED: _l("Working-age unemployed"),
    PersonGroup.ILL_OR_DISABLED: _l("Severely ill or disabled"),
    PersonGroup.ELDERLY: _l("Elderly in hardship"),
    PersonGroup.CHILD_IN_DIFFICULTY: _l("Child in difficulty"),
    PersonGroup.HOUSING_HARDSHIP: _l("Housing hardship"),
    PersonGroup.HOMELESS: _l("Homeless"),
    CareCategory.VISITS: _l("Visits"),
    CareCategory.LIVING: _l("Daily living"),
    CareCategory.EDUCATION: _l("Education"),
    CareCategory.JOBS: _l("Jobs"),
    CareCategory.MEDICAL: _l("Medical"),
    CareCategory.HOUSING: _l("Housing"),
    NeedKind.MICRO_WISH: _l("Micro-wish"),
    NeedKind.FARM_HELP: _l("Farm help"),
    NeedKind.REPAIR: _l("Home repair"),
    Urgency.LOW: _l("Low"),
    Urgency.NORMAL: _l("Normal"),
    Urgency.HIGH: _l("High"),
    Urgency.CRITICAL: _l("Critical"),
    RepairCategory.ELECTRICAL: _l("Electrical wiring"),
    RepairCategory.GAS: _l("Gas safety"),
    RepairCategory.GRAB_BARS: _l("Grab bars"),
    RepairCategory.ANTI_SLIP: _l("Anti-slip bathroom"),
    RepairCategory.ROOF: _l("Roof leak"),
    RepairCategory.PLUMBING: _l("Plumbing"),
    RepairCategory.OTHER: _l("Other"),
    Skill.ELECTRICIAN: _l("Electrician"),
    Skill.GAS_FITTER: _l("Gas fitter"),
    Skill.PLUMBER: _l("Plumber"),
    Skill.MASON: _l("Mason"),
    Skill.ROOFER: _l("Roofer"),
    Skill.CARPENTER: _l("Carpenter"),
    NeedState.DRAFT: _l("Draft"),
    NeedState.SUBMITTED: _l("Awaiting verification"),
    NeedState.PUBLISHED: _l("Open"),
    NeedState.REJECTED: _l("Rejected"),
    NeedState.CLAIMED: _l("Claimed"),
    NeedState.DELIVERED: _l("Delivered"),
    NeedState.CONFIRMED: _l("Confirmed"),
    NeedState.CLOSED: _l("Closed"),
    NeedState.CANCELLED: _l("Cancelled"),
    NeedState.EXPIRED: _l("Expired"),
    ClaimStatus.PENDING: _l("Waiting for the caseworker"),
    ClaimStatus.ACTIVE: _l("In progress"),
    ClaimStatus.DELIVERED: _l("Delivered, awaiting confirmation"),
    ClaimStatus.DISPUTED: _l("Delivery disputed"),
    ClaimStatus.CONFIRMED: _l("Confirmed"),
    ClaimStatus.WITHDRAWN: _l("Withdrawn"),
    ClaimStatus.RELEASED: _l("Released by the caseworker"),
    ClaimStatus.EXPIRED: _l("Lapsed (not delivered in time)"),
    DeliveryMethod.HANDOVER: _l("Hand over to the caseworker or station"),
    DeliveryMethod.IN_PERSON: _l("Deliver in person"),
    DeliveryMethod.CASH: _l("Funded in cash; the caseworker buys and delivers"),
    SignupStatus.BOOKED: _l("Booked"),
    SignupStatus.CANCELLED: _l("Cancelled"),
    DonationStatus.LOGGED: _l("Logged, awaiting receipt"),
    DonationStatus.RECEIVED: _l("Received"),
    DonationStatus.REJECTED: _l("Not received"),
    CashStatus.PENDING: _l("Awaiting payment"),
    CashStatus.PAID: _l("Paid"),
    CashStatus.EXPIRED: _l("Payment not completed"),
    CashStatus.FAILED: _l("Payment failed"),
    CashStatus.REFUNDED: _l("Refunded"),
    CashStatus.PARTLY_REFUNDED: _l("Partly refunded"),
    RedemptionStatus.ACTIVE: _l("To collect"),
    RedemptionStatus.COLLECTED: _l("Collected"),
    RedemptionStatus.CANCELLED: _l("Cancelled"),
    Light.GREEN: _l("Green"),
    Light.YELLOW: _l("Yellow"),
    Light.RED: _l("Red"),
    Light.NONE: _l("No light"),
    Role.AGENT: _l("Village agent"),
    Assistance.NONE: _l("No assistance"),
    Assistance.DIBAO: _l("Subsistence allowance (低保)"),
    Assistance.TEKUN: _l("Extreme hardship (特困)"),
    Assistance.MARGINAL: _l("Marginal low income"),
    Assistance.EXPENDITURE: _l("Expenditure hardship"),
    ConsentScope.NONE: _l("Nothing may be published"),
    ConsentScope.STORY: _l("An anonymised story"),
    ConsentScope.STORY_PHOTOS: _l("An anonymised story and photos without faces"),
    AreaLevel.TOWN: _l("Town / street"),
    AreaLevel.VILLAGE: _l("Village / community"),
    Relation.HEAD: _l("Head of household"),
    Relation.SPOUSE: _l("Spouse"),
    Relation.CHILD: _l("Child"),
    Relation.GRANDCHILD: _l("Grandchild"),
    Relation.PARENT: _l("Parent"),
    Relation.SIBLING: _l("Brother or sister"),
    Relation.OTHER: _l("Other"),
    LifeEvent.ILLNESS: _l("Serious illness"),
    LifeEvent.DISASTER: _l("Disaster"),
    LifeEvent.DEATH: _l("Death in the family"),
    LifeEvent.INCOME_DROP: _l("Sudden drop in income"),
    VisitMethod.HOME: _l("Home visit"),
    VisitMethod.PHONE: _l("Phone call"),
    VisitMethod.STATION: _l("At the service station"),
    VisitMethod.VIDEO: _l("Video call"),
    Finding.ALL_WELL: _l("All well"),
    Finding.HEALTH_WORSE: _l("Health got worse"),
    Finding.SHORT_OF_FOOD: _l("Short of food or daily goods"),
    Finding.UNSAFE_HOME: _l("Home unsafe or in disrepair"),
    Finding.INCOME_DROP: _l("Income dropped"),
    Finding.NEEDS_CARE: _l("Needs care or company"),
    Finding.LONELY: _l("Lonely or low in spirits"),
    Finding.SCHOOL_TROUBLE: _l("Trouble at school"),
    VisitStatus.LOGGED: _l("Logged"),
    VisitStatus.REJECTED: _l("Rejected by the supervisor"),
    ApplicationStatus.SUBMITTED: _l("Waiting for the caseworker"),
    ApplicationStatus.RETURNED: _l("Returned for correction"),
    ApplicationStatus.ACCEPTED: _l("Accepted"),
    ApplicationStatus.HELPED: _l("Helped"),
    ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
}

# Why a household carries its light (codes from app.households.lights).
HOUSEHOLD_LIGHT_REASONS = {
    "visit_overdue": _l("visit overdue"),
    "found_need_no_help": _l("a need found on a visit has had no help"),
    "visit_due_soon": _l("visit due soon"),
    "found_need_no_draft": _l("a need found on a visit has no draft yet"),
    "on_schedule": _l("visits on schedule"),
}


def household_light_reason(code: str) -> Any:
    return HOUSEHOLD_LIGHT_REASONS.get(code, code)


# Rules of the visit schedule, by criterion (app.households.services.criteria).
def visit_criterion_label(criterion: str) -> str:
    kind, _, value = criterion.partition(":")
    if kind == "assistance":
        return str(LABELS[Assistance(value)])
    if kind == "group":
        return str(LABELS[PersonGroup(value)])
    if kind == "event":
        return str(_l("After: %(event)s", event=LABELS[LifeEvent(value)]))
    return str(_l("Lives alone with a disabled or seriously ill member"))


# Why a need carries its light (codes from app.supervision.lights).
LIGHT_REASONS = {
    "disputed": _l("delivery disputed"),
    "claim_overdue": _l("claim overdue"),
    "claim_lapsed": _l("a claim lapsed recently"),
    "idle_red": _l("nothing has happened for too long"),
    "unclaimed_long": _l("unclaimed for a long time"),
    "follow_up_overdue": _l("follow-up visit overdue"),
    "idle": _l("no update for a while"),
    "moving": _l("moving"),
}


def light_reason(code: str) -> str:
    return str(LIGHT_REASONS.get(code, code))


def label(value: enum.Enum | None) -> str:
    if value is None:
        return ""
    return str(LABELS.get(value, value.value))


def choices(enum_cls: type[enum.Enum]) -> list[tuple[str, str]]:
    """(value, label) pairs for a select field, in declaration order."""
    return [(member.value, label(member)) for member in enum_cls]
