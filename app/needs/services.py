"""Households and needs: the caseworker's records, and what the public may see of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, false, func, select
from sqlalchemy.orm import Session, selectinload

from app import events, privacy
from app.accounts.models import Role, User
from app.errors import NotAllowed, ValidationFailed
from app.models_base import local_today, utcnow
from app.needs import lifecycle
from app.needs.models import (
    NEED_CLASSES,
    PUBLIC_STATES,
    CareCategory,
    Household,
    Light,
    Need,
    NeedKind,
    NeedState,
    PersonGroup,
    RepairCategory,
    Skill,
    Urgency,
)
from app.places import gazetteer

# Chinese resident ID: 17 digits and a digit or X (checked further by its checksum).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_resident_id(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)


# --- households ------------------------------------------------------------------------


@dataclass
class HouseholdData:
    name: str
    id_number: str
    phone: str
    address: str
    district_code: str
    group: PersonGroup
    need_score: int = 0
    lat: float | None = None
    lng: float | None = None
    notes: str = ""


def _household_problems(actor: User, data: HouseholdData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.name.strip():
        errors["name"] = [str(_l("Please enter the name."))]
    if not valid_resident_id(data.id_number.strip()):
        errors["id_number"] = [str(_l("Enter a valid 18-character resident ID number."))]
    phone = data.phone.strip().replace(" ", "").replace("-", "")
    if not (phone.isdigit() and 7 <= len(phone) <= 12):
        errors["phone"] = [str(_l("Enter a phone number of 7 to 12 digits."))]
    if not data.address.strip():
        errors["address"] = [str(_l("Please enter the address where the household lives."))]
    if not gazetteer.is_district(data.district_code):
        errors["district_code"] = [str(_l("Choose a district in Guangdong."))]
    elif not actor.works_in(data.district_code):
        errors["district_code"] = [str(_l("You can only record households in your own area."))]
    if not -2 <= data.need_score <= 2:
        errors["need_score"] = [str(_l("The need score runs from -2 to 2."))]
    if (data.lat is None) != (data.lng is None):
        errors["lat"] = [str(_l("Give both latitude and longitude, or neither."))]
    elif (
        data.lat is not None
        and data.lng is not None
        and not (20.0 <= data.lat <= 25.7 and 109.5 <= data.lng <= 117.5)
    ):
        errors["lat"] = [str(_l("This point is outside Guangdong."))]
    return errors


def create_household(session: Session, actor: User, data: HouseholdData) -> Household:
    if not actor.has_role(Role.CASEWORKER):
        raise NotAllowed(_l("Only caseworkers record households."))
    _fail(_household_problems(actor, data))
    household = Household(
        created_by_id=actor.id, need_score=data.need_score, **_household_values(data)
    )
    session.add(household)
    session.flush()
    return household


def update_household(
    session: Session, household: Household, actor: User, data: HouseholdData
) -> None:
    """Identity and residence; the need score is computed (app.households) and is not
    changed here."""
    if not household.can_edit(actor):
        raise NotAllowed(_l("You are not allowed to change this household."))
    _fail(_household_problems(actor, data))
    for key, value in _household_values(data).items():
        setattr(household, key, value)
    session.flush()


def _household_values(data: HouseholdData) -> dict[str, Any]:
    return {
        "name": data.name.strip(),
        "id_number": data.id_number.strip().upper(),
        "phone": data.phone.strip(),
        "address": data.address.strip(),
        "district_code": data.district_code,
        "group": data.group,
        "lat": data.lat,
        "lng": data.lng,
        "notes": data.notes.strip(),
    }


def households_for(session: Session, actor: User) -> list[Household]:
    """Households in the actor's area, highest need score first."""
    if not actor.has_role(Role.CASEWORKER, Role.VERIFIER) or actor.area_code is None:
        raise NotAllowed(_l("Only caseworkers and verifiers see households."))
    return list(
        session.scalars(
            in_area(select(Household), Household.district_code, actor.area_code).order_by(
                Household.need_score.desc(), Household.id.desc()
            )
        )
    )


def in_area(query: Any, column: Any, area_code: str) -> Any:
    place = gazetteer.get(area_code)
    if place is None:
        return query.where(false())
    if place.level == "province":
        return query
    codes = [d.code for d in gazetteer.districts() if gazetteer.covers(area_code, d.code)]
    return query.where(column.in_(codes))


# --- needs -----------------------------------------------------------------------------


@dataclass
class NeedData:
    kind: NeedKind
    title: str
    story: str
    category: CareCategory
    urgency: Urgency
    deadline: date | None = None
    item: str = ""
    quantity: int | None = None
    estimated_value_yuan: int | None = None
    task: str = ""
    window_start: date | None = None
    window_end: date | None = None
    volunteers_needed: int | None = None
    hours_per_volunteer: int | None = None
    repair_category: RepairCategory | None = None
    skills: list[Skill] = field(default_factory=list)
    estimated_cost_yuan: int | None = None


def _need_problems(data: NeedData, household: Household) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    required = str(_l("This field is required."))
    if not data.title.strip():
        errors["title"] = [required]
    if len(data.story.strip()) < 10:
        errors["story"] = [str(_l("Tell the story in at least 10 characters."))]
    if data.deadline is not None and data.deadline < local_today():
        errors["deadline"] = [str(_l("The deadline cannot be in the past."))]
    if data.kind is NeedKind.MICRO_WISH:
        if not data.item.strip():
            errors["item"] = [required]
        if not data.quantity or data.quantity < 1:
            errors["quantity"] = [str(_l("At least 1."))]
        if data.estimated_value_yuan is None or data.estimated_value_yuan < 1:
            errors["estimated_value_yuan"] = [str(_l("Give an estimated value of at least ¥1."))]
    elif data.kind is NeedKind.FARM_HELP:
        if not data.task.strip():
            errors["task"] = [required]
        if data.window_start is None or data.window_end is None:
            errors["window_start"] = [str(_l("Give the first and last day of the work."))]
        elif data.window_end < data.window_start:
            errors["window_end"] = [str(_l("The last day cannot be before the first."))]
        if not data.volunteers_needed or data.volunteers_needed < 1:
            errors["volunteers_needed"] = [str(_l("At least 1."))]
        if not data.hours_per_volunteer or not 1 <= data.hours_per_volunteer <= 12:
            errors["hours_per_volunteer"] = [str(_l("Between 1 and 12 hours."))]
    elif data.kind is NeedKind.REPAIR:
        if data.repair_category is None:
            errors["repair_category"] = [required]
        if data.estimated_cost_yuan is None or data.estimated_cost_yuan < 1:
            errors["estimated_cost_yuan"] = [str(_l("Give an estimated cost of at least ¥1."))]
    return errors


def public_fields(data: NeedData) -> dict[str, str]:
    """The parts of a need that the public reads."""
    return {"title": data.title, "story": data.story, "item": data.item, "task": data.task}


def _check_need(data: NeedData, household: Household) -> None:
    """Field problems and privacy findings, reported together."""
    errors = _need_problems(data, household)
    try:
        privacy.check_public_text(public_fields(data), household)
    except privacy.PrivateTextFound as found:
        for name, messages in found.errors.items():
            errors.setdefault(name, []).extend(messages)
        raise privacy.PrivateTextFound(found.message, errors, found.highlights) from None
    _fail(errors)


def approximate_location(household: Household) -> tuple[float, float]:
    """Where the public sees the need: the exact point snapped to a coarse grid, or the
    district centre when the exact point is unknown. Deterministic, so repeated views
    reveal nothing more."""
    if household.lat is not None and household.lng is not None:
        return gazetteer.snap_to_grid(
            household.lat, household.lng, current_app.config["APPROX_GRID_DEG"]
        )
    district = gazetteer.get(household.district_code)
    assert district is not None  # household validation guarantees a known district
    return district.lat, district.lng


def _kind_values(data: NeedData) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": data.title.strip(),
        "story": data.story.strip(),
        "category": data.category,
        "urgency": data.urgency,
        "deadline": data.deadline,
    }
    if data.kind is NeedKind.MICRO_WISH:
        values.update(
            item=data.item.strip(),
            quantity=data.quantity,
            estimated_value_yuan=data.estimated_value_yuan,
        )
    elif data.kind is NeedKind.FARM_HELP:
        values.update(
            task=data.task.strip(),
            window_start=data.window_start,
            window_end=data.window_end,
            volunteers_needed=data.volunteers_needed,
            hours_per_volunteer=data.hours_per_volunteer,
        )
    else:
        values.update(
            repair_category=data.repair_category,
            skills_required=",".join(s.value for s in data.skills) or None,
            estimated_cost_yuan=data.estimated_cost_yuan,
        )
    return values


def create_need(session: Session, actor: User, household: Household, data: NeedData) -> Need:
    """A caseworker drafts a need for a household in their area."""
    if not household.can_edit(actor):
        raise NotAllowed(_l("You can only record needs for households in your own area."))
    _check_need(data, household)
    lat, lng = approximate_location(household)
    need = NEED_CLASSES[data.kind](
        household_id=household.id,
        created_by_id=actor.id,
        district_code=household.district_code,
        approx_lat=lat,
        approx_lng=lng,
        state=NeedState.DRAFT,
        **_kind_values(data),
    )
    session.add(need)
    session.flush()
    lifecycle.record_creation(session, need, actor)
    session.flush()
    events.emit(events.need_edited, session=session, need=need, was_public=False)
    return need


def update_need(session: Session, need: Need, actor: User, data: NeedData) -> None:
    """Edit a draft or rejected need (a published need is frozen: its story was verified)."""
    if not need.can_edit(actor):
        raise NotAllowed(_l("Only drafts and rejected needs in your area can be edited."))
    if data.kind is not need.kind:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"kind": [str(_l("The kind of a need cannot be changed."))]},
        )
    _check_need(data, need.household)
    for key, value in _kind_values(data).items():
        setattr(need, key, value)
    # An edited need was not the one the verifier saw: a cost exception must be re-approved.
    need.exception_approved_at = None
    need.exception_approved_by_id = None
    lifecycle.record_edit(session, need, actor)
    session.flush()
    events.emit(events.need_edited, session=session, need=need, was_public=need.is_public)


def approve_cost_exception(session: Session, need: Need, actor: User, note: str) -> None:
    """A supervisor approves a repair above the cap (一事一议), before publication."""
    if not actor.is_verifier_for(need.district_code):
        raise NotAllowed(_l("Only a supervisor of this area can approve an exception."))
    if need.kind is not NeedKind.REPAIR or need.state is not NeedState.SUBMITTED:
        raise ValidationFailed(_l("Only a submitted repair needs an exception."))
    if not note.strip():
        raise ValidationFailed(
            _l("Please give a reason."), {"note": [str(_l("A reason is required."))]}
        )
    need.exception_approved_by_id = actor.id
    need.exception_approved_at = utcnow()
    need.exception_note = note.strip()[:500]
    session.flush()


def needs_of_household(session: Session, household: Household) -> list[Need]:
    return list(
        session.scalars(
            select(Need).where(Need.household_id == household.id).order_by(Need.id.desc())
        )
    )


LIGHT_ORDER = case(
    (Need.light == Light.RED, 0),
    (Need.light == Light.YELLOW, 1),
    (Need.light == Light.GREEN, 2),
    else_=3,
)


def needs_for_caseworker(session: Session, actor: User) -> list[Need]:
    """The caseworker's needs, red first, then yellow, then the rest; within a colour the
    neediest household (its score) first, then by last change."""
    query = (
        select(Need)
        .join(Household, Household.id == Need.household_id)
        .order_by(LIGHT_ORDER, Household.need_score.desc(), Need.updated_at.desc())
    )
    return list(session.scalars(in_area(query, Need.district_code, actor.area_code or "")))


def review_queue(session: Session, actor: User) -> list[Need]:
    """Submitted needs in the verifier's area, the neediest household (its score) first,
    then oldest first."""
    if not actor.has_role(Role.VERIFIER):
        raise NotAllowed(_l("Only verifiers review needs."))
    query = (
        select(Need)
        .join(Household, Household.id == Need.household_id)
        .where(Need.state == NeedState.SUBMITTED)
        .order_by(Household.need_score.desc(), Need.updated_at)
    )
    return list(session.scalars(in_area(query, Need.district_code, actor.area_code or "")))


# --- what the public sees --------------------------------------------------------------


@dataclass
class NeedFilters:
    kind: NeedKind | None = None
    city: str | None = None
    district: str | None = None
    status: NeedState | None = None
    category: CareCategory | None = None


@dataclass
class Page:
    items: list[Need]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _public_query(filters: NeedFilters) -> Select[Any]:
    query = select(Need)
    if filters.status is not None and filters.status in PUBLIC_STATES:
        query = query.where(Need.state == filters.status)
    elif filters.status is not None:
        query = query.where(false())  # a non-public state never matches publicly
    else:
        query = query.where(Need.state.in_(PUBLIC_STATES))
    if filters.kind is not None:
        query = query.where(Need.kind == filters.kind)
    if filters.category is not None:
        query = query.where(Need.category == filters.category)
    if filters.district:
        query = query.where(Need.district_code == filters.district)
    elif filters.city:
        codes = [d.code for d in gazetteer.districts(filters.city)]
        query = query.where(Need.district_code.in_(codes))
    return query


def list_public_needs(session: Session, filters: NeedFilters, page: int, per_page: int) -> Page:
    """Verified needs, open ones first, most urgent and newest first. Two queries per page,
    whatever its size: a count and the rows (everything shown is on the need itself)."""
    query = _public_query(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    open_first = (Need.state != NeedState.PUBLISHED).asc()
    rows = session.scalars(
        query.order_by(open_first, Need.published_at.desc(), Need.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(items=list(rows), total=total, page=page, per_page=per_page)


def get_public_need(session: Session, need_id: int) -> Need | None:
    need = session.get(Need, need_id)
    return need if need is not None and need.is_public else None


def public_stats(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Need.state, func.count()).where(Need.state.in_(PUBLIC_STATES)).group_by(Need.state)
    ).all()
    counts = {state.value: n for state, n in rows}
    return {
        "open": counts.get(NeedState.PUBLISHED.value, 0),
        "in_progress": counts.get(NeedState.CLAIMED.value, 0)
        + counts.get(NeedState.DELIVERED.value, 0),
        "fulfilled": counts.get(NeedState.CONFIRMED.value, 0)
        + counts.get(NeedState.CLOSED.value, 0),
    }


# --- privacy review --------------------------------------------------------------------


def public_text_of(need: Need) -> dict[str, str]:
    """Everything the public reads of a stored need."""
    return {
        "title": need.title or "",
        "story": need.story or "",
        "item": need.item or "",
        "task": need.task or "",
        "thank_you": need.thank_you or "",
    }


def privacy_review(need: Need) -> list[tuple[str, privacy.Finding, str]]:
    """What the detector finds in a need's public text, sure or not (for the verifier)."""
    return privacy.review_findings(public_text_of(need), need.household)


def approve_need(session: Session, need: Need, actor: User, privacy_checked: bool) -> None:
    """Publish a submitted need: the verifier must have gone through the privacy checklist,
    and nothing the detector is sure about may remain in the text."""
    if "approve" not in lifecycle.available_actions(need, actor):
        lifecycle.transition(session, need, "approve", actor)  # raises the precise refusal
    if any(finding.certain for _field, finding, _why in privacy_review(need)):
        raise ValidationFailed(
            _l("The public text still identifies the household. Return it for changes."),
            {"privacy_checked": [str(_l("Return the need with the marked parts named."))]},
        )
    if not privacy_checked:
        raise ValidationFailed(
            _l("Tick the privacy checklist before publishing."),
            {"privacy_checked": [str(_l("Confirm you checked the public text."))]},
        )
    lifecycle.transition(session, need, "approve", actor)


@dataclass(frozen=True)
class PrivacyHit:
    need_id: int
    state: NeedState
    field: str
    kind: privacy.FindingKind
    certain: bool


def privacy_scan(session: Session) -> list[PrivacyHit]:
    """Rescan the public text of every need the public can see. Hits name the need, the
    field and the kind of finding, never the text itself (the list ends up in terminals)."""
    hits: list[PrivacyHit] = []
    query = (
        select(Need)
        .where(Need.state.in_(PUBLIC_STATES))
        .options(selectinload(Need.household))
        .order_by(Need.id)
    )
    for need in session.scalars(query):
        for field_name, finding, _why in privacy_review(need):
            hits.append(PrivacyHit(need.id, need.state, field_name, finding.kind, finding.certain))
    return hits
