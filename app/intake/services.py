"""Applications: an agent enters one, the caseworker accepts it (a household and a draft
need) or returns it with a reason; it becomes "helped" once that need is confirmed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.accounts.models import Role, User
from app.errors import NotAllowed, ValidationFailed
from app.households import services as households
from app.households.models import Area
from app.intake.models import Application, ApplicationStatus
from app.models_base import utcnow
from app.needs import services as needs
from app.needs.models import CareCategory, Household, Need, NeedKind, NeedState, PersonGroup
from app.needs.services import in_area, valid_resident_id
from app.statemachine import Move, StateMachine, system

HELPED_STATES = (NeedState.CONFIRMED, NeedState.CLOSED)


def _agent_of(application: Application, actor: Any) -> bool:
    return actor is not None and application.is_agent(actor)


def _caseworker_of(application: Application, actor: Any) -> bool:
    return actor is not None and application.can_decide(actor)


APPLICATION = StateMachine(
    "application",
    Application,
    Application.status,
    {
        "accept": Move({ApplicationStatus.SUBMITTED}, ApplicationStatus.ACCEPTED, _caseworker_of),
        "return": Move(
            {ApplicationStatus.SUBMITTED},
            ApplicationStatus.RETURNED,
            _caseworker_of,
            note_required=True,
        ),
        "resubmit": Move({ApplicationStatus.RETURNED}, ApplicationStatus.SUBMITTED, _agent_of),
        "withdraw": Move(
            {ApplicationStatus.SUBMITTED, ApplicationStatus.RETURNED},
            ApplicationStatus.WITHDRAWN,
            _agent_of,
        ),
        "helped": Move({ApplicationStatus.ACCEPTED}, ApplicationStatus.HELPED, system),
    },
)


def agent_area(session: Session, agent: User) -> Area | None:
    return session.get(Area, agent.area_id) if agent.area_id else None


@dataclass
class ApplicationData:
    applicant_name: str
    id_number: str
    phone: str
    address: str
    group: PersonGroup
    kind: NeedKind
    category: CareCategory
    need_text: str


def _problems(data: ApplicationData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.applicant_name.strip() or len(data.applicant_name.strip()) > 80:
        errors["applicant_name"] = [str(_l("Please enter the name."))]
    if not valid_resident_id(data.id_number.strip()):
        errors["id_number"] = [str(_l("Enter a valid 18-character resident ID number."))]
    phone = data.phone.strip().replace(" ", "").replace("-", "")
    if not (phone.isdigit() and 7 <= len(phone) <= 12):
        errors["phone"] = [str(_l("Enter a phone number of 7 to 12 digits."))]
    if not data.address.strip() or len(data.address.strip()) > 200:
        errors["address"] = [str(_l("Please enter the address where the household lives."))]
    if len(data.need_text.strip()) < 10:
        errors["need_text"] = [str(_l("Describe the need in at least 10 characters."))]
    elif len(data.need_text) > 2000:
        errors["need_text"] = [str(_l("At most 2000 characters."))]
    return errors


def _values(data: ApplicationData) -> dict[str, Any]:
    return {
        "applicant_name": data.applicant_name.strip(),
        "id_number": data.id_number.strip().upper(),
        "phone": data.phone.strip(),
        "address": data.address.strip(),
        "group": data.group,
        "kind": data.kind,
        "category": data.category,
        "need_text": data.need_text.strip(),
    }


def _store_documents(
    session: Session, application: Application, actor: User, documents: list[FileStorage]
) -> None:
    from app.uploads import services as uploads

    for document in documents[:5]:
        if document is not None and document.filename:
            uploads.store_image(
                session,
                document,
                owner_kind="application",
                owner_id=application.id,
                district_code=application.district_code,
                uploaded_by=actor,
            )


def submit_application(
    session: Session,
    agent: User,
    data: ApplicationData,
    documents: list[FileStorage] | None = None,
) -> Application:
    """An agent enters an application for a household of their village or town."""
    if not agent.has_role(Role.AGENT) or not agent.area_code:
        raise NotAllowed(_l("Only village agents enter applications."))
    errors = _problems(data)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    application = Application(
        agent_id=agent.id,
        district_code=agent.area_code,
        area_id=agent.area_id,
        status=ApplicationStatus.SUBMITTED,
        **_values(data),
    )
    session.add(application)
    session.flush()
    _store_documents(session, application, agent, documents or [])
    return application


def correct_and_resubmit(
    session: Session,
    application: Application,
    agent: User,
    data: ApplicationData,
    documents: list[FileStorage] | None = None,
) -> None:
    """The agent corrects a returned application and sends it again."""
    if not APPLICATION.can(application, "resubmit", agent):
        raise NotAllowed(_l("Only a returned application of your own can be sent again."))
    errors = _problems(data)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    APPLICATION.apply(session, application, "resubmit", agent, **_values(data))
    _store_documents(session, application, agent, documents or [])


def withdraw(session: Session, application: Application, agent: User) -> None:
    APPLICATION.apply(session, application, "withdraw", agent)


def return_application(
    session: Session, application: Application, actor: User, reason: str
) -> None:
    APPLICATION.apply(
        session,
        application,
        "return",
        actor,
        note=reason,
        return_reason=reason.strip()[:500],
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )


def matching_household(session: Session, application: Application) -> Household | None:
    """A household of the district with the same ID number: accept links to it."""
    return session.scalar(
        select(Household)
        .where(
            Household.district_code == application.district_code,
            Household.id_number == application.id_number,
        )
        .order_by(Household.id)
    )


def accept_application(
    session: Session, application: Application, actor: User, need_data: needs.NeedData
) -> Need:
    """Accept: link the household (same ID number in the district) or create it, and draft
    the need the caseworker wrote from the application."""
    if not APPLICATION.can(application, "accept", actor):
        raise NotAllowed(_l("Only a caseworker of this district can accept it now."))
    household = matching_household(session, application)
    created = household is None
    if household is None:
        household = needs.create_household(
            session,
            actor,
            needs.HouseholdData(
                name=application.applicant_name,
                id_number=application.id_number,
                phone=application.phone,
                address=application.address,
                district_code=application.district_code,
                group=application.group,
            ),
        )
        area = session.get(Area, application.area_id) if application.area_id else None
        if area is not None:
            household.town_id = area.town_id
            household.village_id = area.id if area.parent_id is not None else None
            session.flush()
    need = needs.create_need(session, actor, household, need_data)
    APPLICATION.apply(
        session,
        application,
        "accept",
        actor,
        household_id=household.id,
        need_id=need.id,
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )
    households.add_history(
        session,
        household,
        actor,
        "application",
        f"#{application.id} {'created' if created else 'linked'}",
    )
    households.refresh(session, household)
    return need


def mark_helped(session: Session, application: Application) -> bool:
    """The system marks an accepted application helped once its need is confirmed (from the
    need's own event, or the sweep's catch-all)."""
    if application.status is not ApplicationStatus.ACCEPTED:
        return False
    need = session.get(Need, application.need_id) if application.need_id else None
    if need is None or need.state not in HELPED_STATES:
        return False
    APPLICATION.apply(session, application, "helped", None)
    return True


def mark_helped_applications(session: Session) -> int:
    """The sweep's catch-all: accepted applications whose need has been confirmed."""
    waiting = session.scalars(
        select(Application)
        .join(Need, Need.id == Application.need_id)
        .where(Application.status == ApplicationStatus.ACCEPTED, Need.state.in_(HELPED_STATES))
        .order_by(Application.id)
    ).all()
    return sum(mark_helped(session, a) for a in waiting)


def applications_of_agent(session: Session, agent: User) -> list[Application]:
    return list(
        session.scalars(
            select(Application)
            .where(Application.agent_id == agent.id)
            .order_by(Application.id.desc())
        )
    )


def intake_queue(session: Session, actor: User, include_decided: bool = False) -> list[Application]:
    """Applications of the caseworker's district waiting for a decision, oldest first."""
    if not actor.has_role(Role.CASEWORKER, Role.VERIFIER) or actor.area_code is None:
        raise NotAllowed(_l("Only caseworkers see the intake queue."))
    query = select(Application)
    if not include_decided:
        query = query.where(Application.status == ApplicationStatus.SUBMITTED)
    query = in_area(query, Application.district_code, actor.area_code)
    if actor.area_id is not None:
        query = query.join(Area, Area.id == Application.area_id, isouter=True).where(
            (Application.area_id == actor.area_id) | (Area.parent_id == actor.area_id)
        )
    return list(session.scalars(query.order_by(Application.created_at, Application.id)))


def applications_for_household(session: Session, household: Household) -> list[Application]:
    return list(
        session.scalars(
            select(Application)
            .where(Application.household_id == household.id)
            .order_by(Application.id.desc())
        )
    )


def draft_from_application(application: Application) -> dict[str, Any]:
    """What the caseworker's need form starts with: the agent's words as the story (the
    form refuses a story that names the household)."""
    text = application.need_text
    return {
        "kind": application.kind.value,
        "category": application.category.value,
        "title": text.split("。")[0][:40],
        "story": text,
    }


# --- agents --------------------------------------------------------------------------------


def create_agent(
    session: Session, admin: User, email: str, display_name: str, area: Area | None, password: str
) -> User:
    """An admin creates a village agent's account, bound to a village or a town."""
    from app.accounts import services as accounts

    if not admin.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only a site admin can create staff accounts."))
    errors: dict[str, list[str]] = {}
    if accounts.get_user_by_email(session, email) is not None:
        errors["email"] = [str(_l("An account with this email already exists."))]
    if area is None:
        errors["area_id"] = [str(_l("Choose the village or town they work in."))]
    problems = accounts.password_problems(password, email)
    if problems:
        errors["password"] = problems
    if not display_name.strip():
        errors["display_name"] = [str(_l("Please enter a name."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    assert area is not None
    user = User(
        email=accounts.normalise_email(email),
        display_name=display_name.strip(),
        role=Role.AGENT,
        area_code=area.district_code,
        area_id=area.id,
        password_hash=accounts.hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def agents(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.AGENT).order_by(User.id)))
