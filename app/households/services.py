"""The caseworker's records of a household beyond its identity: areas, circumstances,
members, 四必访 events, visit rules, visits, the explained score and the light."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app import events
from app.accounts.models import Role, User
from app.errors import NotAllowed, ValidationFailed
from app.households import lights as household_lights
from app.households.models import (
    Area,
    AreaLevel,
    CityPolicy,
    Finding,
    HouseholdEvent,
    HouseholdHistory,
    HouseholdMember,
    LifeEvent,
    LocalService,
    Relation,
    Visit,
    VisitMethod,
    VisitRule,
    VisitStatus,
)
from app.households.score import MemberFacts, Score, ScoreFacts, explain
from app.models_base import CHINA, local_today, utcnow
from app.needs.models import (
    Assistance,
    CareCategory,
    ConsentScope,
    Household,
    Light,
    Need,
    NeedState,
    PersonGroup,
)
from app.needs.services import in_area
from app.places import gazetteer
from app.statemachine import Move, StateMachine

RECENT_EVENT_DAYS = 90
VISIT_BACKDATE_DAYS = 60


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)


def _require_admin(actor: User) -> None:
    if not actor.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only a site admin can do that."))


def _require_editor(household: Household, actor: User) -> None:
    if not household.can_edit(actor):
        raise NotAllowed(_l("You are not allowed to change this household."))


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


# --- history ---------------------------------------------------------------------------


def add_history(
    session: Session, household: Household, actor: User | None, kind: str, text: str = ""
) -> HouseholdHistory:
    entry = HouseholdHistory(
        household_id=household.id,
        actor_id=actor.id if actor is not None else None,
        kind=kind,
        text=text[:500],
        at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def history_of(session: Session, household: Household) -> list[HouseholdHistory]:
    return list(
        session.scalars(
            select(HouseholdHistory)
            .where(HouseholdHistory.household_id == household.id)
            .order_by(HouseholdHistory.id.desc())
        )
    )


# --- areas, local services, the 低保 line ------------------------------------------------


def create_area(
    session: Session, actor: User, district_code: str, name: str, parent: Area | None = None
) -> Area:
    """An admin adds a town under a district, or a village under a town."""
    _require_admin(actor)
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name or len(name) > 60:
        errors["name"] = [str(_l("Enter a name of up to 60 characters."))]
    if not gazetteer.is_district(district_code):
        errors["district_code"] = [str(_l("Choose a district in Guangdong."))]
    elif parent is not None and (
        parent.district_code != district_code or parent.level is not AreaLevel.TOWN
    ):
        errors["parent_id"] = [str(_l("Choose a town in this district."))]
    duplicate = session.scalar(
        select(Area.id).where(
            Area.district_code == district_code,
            Area.name == name,
            Area.parent_id == parent.id if parent is not None else Area.parent_id.is_(None),
        )
    )
    if duplicate is not None:
        errors["name"] = [str(_l("This name is already taken here."))]
    _fail(errors)
    area = Area(
        district_code=district_code,
        parent_id=parent.id if parent is not None else None,
        level=AreaLevel.VILLAGE if parent is not None else AreaLevel.TOWN,
        name=name,
    )
    session.add(area)
    session.flush()
    return area


def areas_of(session: Session, district_code: str) -> list[Area]:
    """Towns and villages of a district, each town followed by its villages."""
    rows = list(
        session.scalars(
            select(Area).where(Area.district_code == district_code).order_by(Area.name, Area.id)
        )
    )
    towns = [a for a in rows if a.level is AreaLevel.TOWN]
    ordered: list[Area] = []
    for town in towns:
        ordered.append(town)
        ordered.extend(a for a in rows if a.parent_id == town.id)
    return ordered


def area_name(area: Area | None) -> str:
    if area is None:
        return ""
    if area.parent is not None:
        return f"{area.parent.name} · {area.name}"
    return area.name


def add_local_service(session: Session, actor: User, city_code: str, name: str) -> LocalService:
    _require_admin(actor)
    name = name.strip()
    errors: dict[str, list[str]] = {}
    city = gazetteer.get(city_code)
    if city is None or city.level != "city":
        errors["city_code"] = [str(_l("Choose a city."))]
    if not name or len(name) > 60:
        errors["name"] = [str(_l("Enter a name of up to 60 characters."))]
    elif session.scalar(
        select(LocalService.id).where(
            LocalService.city_code == city_code, LocalService.name == name
        )
    ):
        errors["name"] = [str(_l("This name is already taken here."))]
    _fail(errors)
    service = LocalService(city_code=city_code, name=name)
    session.add(service)
    session.flush()
    return service


def local_services_for(session: Session, district_code: str) -> list[LocalService]:
    city = gazetteer.city_of(district_code)
    return list(
        session.scalars(
            select(LocalService)
            .where(LocalService.city_code == city.code, LocalService.active.is_(True))
            .order_by(LocalService.id)
        )
    )


def all_local_services(session: Session) -> list[LocalService]:
    return list(
        session.scalars(select(LocalService).order_by(LocalService.city_code, LocalService.id))
    )


def set_dibao_line(session: Session, actor: User, city_code: str, yuan: int) -> CityPolicy:
    _require_admin(actor)
    city = gazetteer.get(city_code)
    if city is None or city.level != "city":
        _fail({"city_code": [str(_l("Choose a city."))]})
    if not 1 <= yuan <= 100_000:
        _fail({"dibao_line_yuan": [str(_l("Between 1 and 100,000 yuan a month."))]})
    policy = session.get(CityPolicy, city_code)
    if policy is None:
        policy = CityPolicy(city_code=city_code, dibao_line_yuan=yuan)
        session.add(policy)
    else:
        policy.dibao_line_yuan = yuan
    session.flush()
    return policy


def dibao_lines(session: Session) -> dict[str, int]:
    return {p.city_code: p.dibao_line_yuan for p in session.scalars(select(CityPolicy))}


def dibao_line_for(session: Session, district_code: str) -> int | None:
    policy = session.get(CityPolicy, gazetteer.city_of(district_code).code)
    return policy.dibao_line_yuan if policy is not None else None


# --- circumstances ---------------------------------------------------------------------


def _csv(values: list[Any]) -> str:
    return ",".join(str(getattr(v, "value", v)) for v in values)


def groups_of(household: Household) -> list[PersonGroup]:
    extra = [PersonGroup(v) for v in household.extra_groups.split(",") if v]
    return [household.group, *[g for g in extra if g is not household.group]]


def care_kinds_of(household: Household) -> list[CareCategory]:
    return [CareCategory(v) for v in household.care_kinds.split(",") if v]


def service_ids_of(household: Household) -> list[int]:
    return [int(v) for v in household.local_services.split(",") if v.isdigit()]


@dataclass
class ProfileData:
    registered_district_code: str | None = None
    town_id: int | None = None
    village_id: int | None = None
    assistance: Assistance = Assistance.NONE
    lives_alone: bool = False
    extra_groups: list[PersonGroup] = field(default_factory=list)
    care_kinds: list[CareCategory] = field(default_factory=list)
    local_service_ids: list[int] = field(default_factory=list)
    consent_on: date | None = None
    consent_scope: ConsentScope = ConsentScope.NONE
    income_per_head_yuan: int | None = None
    savings_yuan: int | None = None
    has_car: bool = False
    has_extra_house: bool = False


def update_profile(session: Session, household: Household, actor: User, data: ProfileData) -> None:
    """Record where the household is registered and lives, its groups, consent and the
    factors of its score; the score and the visit due date follow."""
    _require_editor(household, actor)
    errors: dict[str, list[str]] = {}
    if data.registered_district_code and not gazetteer.is_district(data.registered_district_code):
        errors["registered_district_code"] = [str(_l("Choose a district in Guangdong."))]
    town = session.get(Area, data.town_id) if data.town_id else None
    village = session.get(Area, data.village_id) if data.village_id else None
    if data.town_id and (
        town is None
        or town.level is not AreaLevel.TOWN
        or town.district_code != household.district_code
    ):
        errors["town_id"] = [str(_l("Choose a town in the district where they live."))]
    if data.village_id and (village is None or town is None or village.parent_id != town.id):
        errors["village_id"] = [str(_l("Choose a village in that town."))]
    allowed = {s.id for s in local_services_for(session, household.district_code)}
    if set(data.local_service_ids) - allowed:
        errors["local_services"] = [str(_l("Choose services offered in this city."))]
    if data.consent_on is not None and data.consent_on > local_today():
        errors["consent_on"] = [str(_l("The date of consent cannot be in the future."))]
    if data.consent_scope is not ConsentScope.NONE and data.consent_on is None:
        errors["consent_on"] = [str(_l("Give the date the household agreed."))]
    for name in ("income_per_head_yuan", "savings_yuan"):
        value = getattr(data, name)
        if value is not None and not 0 <= value <= 100_000_000:
            errors[name] = [str(_l("Enter an amount of 0 or more."))]
    _fail(errors)
    household.registered_district_code = data.registered_district_code or None
    household.town_id = town.id if town is not None else None
    household.village_id = village.id if village is not None else None
    household.assistance = data.assistance
    household.lives_alone = data.lives_alone
    household.extra_groups = _csv([g for g in data.extra_groups if g is not household.group])
    household.care_kinds = _csv(data.care_kinds)
    household.local_services = _csv(sorted(set(data.local_service_ids)))
    household.consent_on = data.consent_on
    household.consent_scope = data.consent_scope
    household.income_per_head_yuan = data.income_per_head_yuan
    household.savings_yuan = data.savings_yuan
    household.has_car = data.has_car
    household.has_extra_house = data.has_extra_house
    session.flush()
    add_history(session, household, actor, "profile")
    refresh(session, household)


# --- members ---------------------------------------------------------------------------


@dataclass
class MemberData:
    name: str
    relation: Relation
    birth_year: int
    disabled: bool = False
    seriously_ill: bool = False
    works: bool = False


def add_member(
    session: Session, household: Household, actor: User, data: MemberData
) -> HouseholdMember:
    _require_editor(household, actor)
    errors: dict[str, list[str]] = {}
    if not data.name.strip() or len(data.name.strip()) > 80:
        errors["name"] = [str(_l("Please enter the name."))]
    if not 1900 <= data.birth_year <= local_today().year:
        errors["birth_year"] = [str(_l("Enter a year between 1900 and this year."))]
    _fail(errors)
    member = HouseholdMember(
        household_id=household.id,
        name=data.name.strip(),
        relation=data.relation,
        birth_year=data.birth_year,
        disabled=data.disabled,
        seriously_ill=data.seriously_ill,
        works=data.works,
    )
    session.add(member)
    session.flush()
    session.expire(household, ["members"])  # the privacy guard reads them
    add_history(session, household, actor, "member_added", data.relation.value)
    refresh(session, household)
    return member


def remove_member(session: Session, member: HouseholdMember, actor: User) -> None:
    household = session.get(Household, member.household_id)
    assert household is not None
    _require_editor(household, actor)
    relation = member.relation.value
    session.delete(member)
    session.flush()
    session.expire(household, ["members"])
    add_history(session, household, actor, "member_removed", relation)
    refresh(session, household)


def members_of(session: Session, household: Household) -> list[HouseholdMember]:
    return list(
        session.scalars(
            select(HouseholdMember)
            .where(HouseholdMember.household_id == household.id)
            .order_by(HouseholdMember.id)
        )
    )


# --- 四必访 events ----------------------------------------------------------------------


def record_event(
    session: Session,
    household: Household,
    actor: User,
    kind: LifeEvent,
    occurred_on: date,
    note: str = "",
) -> HouseholdEvent:
    """Illness, disaster, a death or a drop in income: a visit is due within the rule's days."""
    _require_editor(household, actor)
    if occurred_on > local_today():
        _fail({"occurred_on": [str(_l("The date cannot be in the future."))]})
    if len(note) > 500:
        _fail({"note": [str(_l("At most 500 characters."))]})
    event = HouseholdEvent(
        household_id=household.id,
        kind=kind,
        occurred_on=occurred_on,
        note=note.strip(),
        recorded_by_id=actor.id,
    )
    session.add(event)
    session.flush()
    add_history(session, household, actor, "event", kind.value)
    refresh(session, household)
    return event


def events_of(session: Session, household: Household) -> list[HouseholdEvent]:
    return list(
        session.scalars(
            select(HouseholdEvent)
            .where(HouseholdEvent.household_id == household.id)
            .order_by(HouseholdEvent.occurred_on.desc(), HouseholdEvent.id.desc())
        )
    )


# --- visit rules -----------------------------------------------------------------------

ALONE_DISABLED = "alone_disabled"


def criteria() -> list[str]:
    """Every criterion a rule can key on, in the order the admin page shows them."""
    return [
        *(f"assistance:{a.value}" for a in Assistance if a is not Assistance.NONE),
        *(f"group:{g.value}" for g in PersonGroup),
        ALONE_DISABLED,
        *(f"event:{e.value}" for e in LifeEvent),
    ]


def visit_rules(session: Session) -> dict[str, int]:
    return {r.criterion: r.days for r in session.scalars(select(VisitRule))}


def set_visit_rules(session: Session, actor: User, rules: dict[str, int | None]) -> None:
    """Set (or, with None, remove) the interval for each criterion."""
    _require_admin(actor)
    known = set(criteria())
    errors = {
        name: [str(_l("Between 1 and 366 days."))]
        for name, days in rules.items()
        if days is not None and not 1 <= days <= 366
    }
    errors.update({name: [str(_l("Unknown rule."))] for name in rules if name not in known})
    _fail(errors)
    existing = {r.criterion: r for r in session.scalars(select(VisitRule))}
    for name, days in rules.items():
        rule = existing.get(name)
        if days is None:
            if rule is not None:
                session.delete(rule)
        elif rule is None:
            session.add(VisitRule(criterion=name, days=days))
        else:
            rule.days = days
    session.flush()
    for household in session.scalars(select(Household)):
        refresh_due(session, household, visit_rules(session))


def interval_for(
    household: Household, members: list[HouseholdMember], rules: dict[str, int]
) -> int | None:
    """The shortest interval of the rules the household matches (None: no rule applies)."""
    matched = []
    if household.assistance is not Assistance.NONE:
        matched.append(rules.get(f"assistance:{household.assistance.value}"))
    matched.extend(rules.get(f"group:{g.value}") for g in groups_of(household))
    if household.lives_alone and any(m.disabled or m.seriously_ill for m in members):
        matched.append(rules.get(ALONE_DISABLED))
    days = [d for d in matched if d]
    return min(days) if days else None


def last_visit_at(session: Session, household: Household) -> datetime | None:
    return session.scalar(
        select(func.max(Visit.visited_at)).where(
            Visit.household_id == household.id, Visit.status == VisitStatus.LOGGED
        )
    )


def due_on(session: Session, household: Household, rules: dict[str, int]) -> date | None:
    """The date the next visit is due: the regular interval after the last visit (or after
    the household was recorded), or sooner when a 四必访 event has not been visited yet."""
    members = members_of(session, household)
    last = last_visit_at(session, household)
    candidates: list[date] = []
    interval = interval_for(household, members, rules)
    if interval is not None:
        start = last if last is not None else household.created_at
        candidates.append(local_date(start) + timedelta(days=interval))
    for event in events_of(session, household):
        days = rules.get(f"event:{event.kind.value}")
        if days is None or (last is not None and last >= event.created_at):
            continue
        candidates.append(local_date(event.created_at) + timedelta(days=days))
    return min(candidates) if candidates else None


def refresh_due(session: Session, household: Household, rules: dict[str, int]) -> None:
    due = due_on(session, household, rules)
    if due != household.visit_due_on:
        household.visit_due_on = due
        session.flush()


# --- the score -------------------------------------------------------------------------


def score_facts(session: Session, household: Household, now: datetime | None = None) -> ScoreFacts:
    now = now or utcnow()
    year = local_date(now).year
    members = members_of(session, household)
    recent = local_date(now) - timedelta(days=RECENT_EVENT_DAYS)
    helped = (
        session.scalar(
            select(func.count(Need.id)).where(
                Need.household_id == household.id,
                Need.state.in_((NeedState.CONFIRMED, NeedState.CLOSED)),
                Need.updated_at >= now - timedelta(days=365),
            )
        )
        or 0
    )
    return ScoreFacts(
        income_per_head_yuan=household.income_per_head_yuan,
        dibao_line_yuan=dibao_line_for(session, household.district_code),
        savings_yuan=household.savings_yuan,
        has_car=household.has_car,
        has_extra_house=household.has_extra_house,
        members=[
            MemberFacts(
                age=year - m.birth_year,
                disabled=m.disabled,
                seriously_ill=m.seriously_ill,
                works=m.works,
            )
            for m in members
        ],
        recent_events=[e.kind for e in events_of(session, household) if e.occurred_on >= recent],
        helped_last_12_months=helped,
    )


def explain_household(session: Session, household: Household) -> Score:
    return explain(score_facts(session, household))


def refresh_score(session: Session, household: Household) -> None:
    computed = explain_household(session, household).value
    in_force = household.score_override if household.score_override is not None else computed
    if (household.computed_score, household.need_score) != (computed, in_force):
        household.computed_score = computed
        household.need_score = in_force
        session.flush()


def override_score(
    session: Session, household: Household, actor: User, value: int | None, reason: str
) -> None:
    """A caseworker sets the score by hand (with a reason, kept in the history), or goes
    back to the computed one with ``value=None``."""
    _require_editor(household, actor)
    reason = (reason or "").strip()
    if value is not None and not -2 <= value <= 2:
        _fail({"score": [str(_l("The need score runs from -2 to 2."))]})
    if not reason:
        _fail({"reason": [str(_l("A reason is required."))]})
    if len(reason) > 500:
        _fail({"reason": [str(_l("At most 500 characters."))]})
    household.score_override = value
    household.score_override_reason = reason if value is not None else ""
    session.flush()
    text = f"{value}: {reason}" if value is not None else reason
    add_history(
        session, household, actor, "score_override" if value is not None else "score_reset", text
    )
    refresh_score(session, household)


def refresh(session: Session, household: Household) -> None:
    """Recompute what follows from the records: the score and the visit due date."""
    refresh_score(session, household)
    refresh_due(session, household, visit_rules(session))


# --- visits ----------------------------------------------------------------------------


def _supervisor_of_visit(visit: Visit, actor: Any) -> bool:
    return (
        actor is not None
        and actor.has_role(Role.VERIFIER)
        and actor.works_in(visit.household.district_code)
    )


VISIT = StateMachine(
    "visit",
    Visit,
    Visit.status,
    {
        "reject": Move(
            {VisitStatus.LOGGED}, VisitStatus.REJECTED, _supervisor_of_visit, note_required=True
        ),
        "reinstate": Move({VisitStatus.REJECTED}, VisitStatus.LOGGED, _supervisor_of_visit),
    },
)


@dataclass
class VisitData:
    visited_at: datetime
    method: VisitMethod
    met: str = ""
    findings: list[Finding] = field(default_factory=list)
    note: str = ""
    need_found: bool = False


def can_log_visit(household: Household, actor: User) -> bool:
    return household.can_edit(actor)


def log_visit(
    session: Session,
    household: Household,
    actor: User,
    data: VisitData,
    photo: FileStorage | None = None,
) -> Visit:
    """Record a visit: the due date moves on, points follow (through ``visit_logged``)."""
    if not can_log_visit(household, actor):
        raise NotAllowed(_l("You can only log visits to households in your own area."))
    now = utcnow()
    errors: dict[str, list[str]] = {}
    if data.visited_at.tzinfo is None:
        errors["visited_at"] = [str(_l("Give the date and time of the visit."))]
    elif data.visited_at > now + timedelta(minutes=10):
        errors["visited_at"] = [str(_l("The visit cannot be in the future."))]
    elif data.visited_at < now - timedelta(days=VISIT_BACKDATE_DAYS):
        errors["visited_at"] = [
            str(_l("Visits older than %(days)s days cannot be logged.", days=VISIT_BACKDATE_DAYS))
        ]
    if len(data.met) > 80:
        errors["met"] = [str(_l("At most 80 characters."))]
    if len(data.note) > 2000:
        errors["note"] = [str(_l("At most 2000 characters."))]
    if data.need_found and not data.note.strip():
        errors["note"] = [str(_l("Say in a few words what is needed."))]
    if Finding.ALL_WELL in data.findings and (data.need_found or len(data.findings) > 1):
        errors["findings"] = [str(_l('"All well" cannot go with other findings.'))]
    _fail(errors)
    visit = Visit(
        household_id=household.id,
        visitor_id=actor.id,
        visited_at=data.visited_at,
        method=data.method,
        met=data.met.strip(),
        findings=_csv(list(dict.fromkeys(data.findings))),
        note=data.note.strip(),
        need_found=data.need_found,
        status=VisitStatus.LOGGED,
    )
    session.add(visit)
    session.flush()
    if photo is not None and photo.filename:
        from app.uploads import services as uploads

        uploads.store_image(
            session,
            photo,
            owner_kind="visit",
            owner_id=visit.id,
            district_code=household.district_code,
            uploaded_by=actor,
        )
    add_history(session, household, actor, "visit", data.method.value)
    refresh_due(session, household, visit_rules(session))
    events.emit(events.visit_logged, session=session, visit=visit)
    return visit


def visits_of(session: Session, household: Household, limit: int = 200) -> list[Visit]:
    return list(
        session.scalars(
            select(Visit)
            .where(Visit.household_id == household.id)
            .order_by(Visit.visited_at.desc(), Visit.id.desc())
            .limit(limit)
        )
    )


def link_found_need(session: Session, visit: Visit, need: Need, actor: User) -> None:
    """The draft need written from what a visit found."""
    if need.household_id != visit.household_id or not visit.household.can_edit(actor):
        raise NotAllowed(_l("You are not allowed to change this household."))
    visit.draft_need_id = need.id
    session.flush()
    add_history(session, visit.household, actor, "need_drafted", need.title)


def reject_visit(session: Session, visit: Visit, actor: User, reason: str) -> None:
    VISIT.apply(session, visit, "reject", actor, note=reason, review_note=reason.strip()[:500])
    refresh_due(session, visit.household, visit_rules(session))
    add_history(session, visit.household, actor, "visit_rejected", reason)


def due_visits(session: Session, actor: User, within_days: int | None = None) -> list[Household]:
    """Households in the actor's area whose visit is overdue or due soon: overdue first,
    then by date, then the neediest first."""
    if not actor.has_role(Role.CASEWORKER, Role.VERIFIER) or actor.area_code is None:
        raise NotAllowed(_l("Only caseworkers and supervisors see visits due."))
    days = current_app.config["HOUSEHOLD_DUE_SOON_DAYS"] if within_days is None else within_days
    query = select(Household).where(
        Household.visit_due_on.is_not(None),
        Household.visit_due_on <= local_today() + timedelta(days=days),
    )
    query = _in_own_area(in_area(query, Household.district_code, actor.area_code), actor)
    return list(
        session.scalars(
            query.order_by(Household.visit_due_on, Household.need_score.desc(), Household.id)
        )
    )


def _in_own_area(query: Any, actor: User) -> Any:
    """Staff scoped to a town or village see only that part of their district."""
    if actor.area_id is None:
        return query
    return query.where(
        or_(Household.town_id == actor.area_id, Household.village_id == actor.area_id)
    )


# --- lights ----------------------------------------------------------------------------


LIGHT_ORDER = case((Household.light == Light.RED, 0), (Household.light == Light.YELLOW, 1), else_=2)


def refresh_light(session: Session, household: Household, now: datetime) -> Light | None:
    """Recompute and store the household's light; the old light when it changed."""
    facts = household_lights.facts_for(session, household)
    light, reason = household_lights.compute(facts, now, local_date(now), current_app.config)
    if (light, reason) == (household.light, household.light_reason):
        return None
    old = household.light
    household.light = light
    household.light_reason = reason
    household.light_changed_at = now
    session.flush()
    return old if old is not light else None


def turn_household_lights(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """The sweep's pass over households: due dates, scores and lights; every change of
    colour is announced (``household_light_changed``). Returns (checked, changed)."""
    now = now or utcnow()
    rules = visit_rules(session)
    checked = changed = 0
    for household in session.scalars(select(Household).order_by(Household.id)).all():
        refresh_due(session, household, rules)
        refresh_score(session, household)
        old = refresh_light(session, household, now)
        checked += 1
        if old is not None:
            changed += 1
            add_history(session, household, None, "light", household.light.value)
            events.emit(
                events.household_light_changed,
                session=session,
                household=household,
                old=old,
                new=household.light,
            )
    return checked, changed


@dataclass
class HouseholdBoard:
    counts: dict[Light, int] = field(default_factory=dict)
    attention: list[Household] = field(default_factory=list)  # red, then yellow


def household_board(session: Session, actor: User, limit: int = 200) -> HouseholdBoard:
    if not actor.has_role(Role.CASEWORKER, Role.VERIFIER) or actor.area_code is None:
        raise NotAllowed(_l("Only caseworkers and supervisors see the lights."))
    board = HouseholdBoard()
    rows = session.execute(
        _in_own_area(
            in_area(
                select(Household.light, func.count()), Household.district_code, actor.area_code
            ),
            actor,
        ).group_by(Household.light)
    ).all()
    board.counts = dict(rows)  # type: ignore[arg-type]
    board.attention = list(
        session.scalars(
            _in_own_area(
                in_area(
                    select(Household).where(Household.light.in_((Light.RED, Light.YELLOW))),
                    Household.district_code,
                    actor.area_code,
                ),
                actor,
            )
            .order_by(LIGHT_ORDER, Household.need_score.desc(), Household.visit_due_on)
            .limit(limit)
        )
    )
    return board
