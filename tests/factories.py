"""factory_boy factories with traits for every model."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.accounts.models import (
    MemberRole,
    Membership,
    Organisation,
    OrganisationSkill,
    OrgKind,
    OrgStatus,
    Role,
    User,
)
from app.accounts.services import hash_password
from app.extensions import db
from app.households.models import Area, AreaLevel
from app.models_base import local_today, utcnow
from app.needs.models import (
    CareCategory,
    FarmHelp,
    Household,
    MicroWish,
    NeedState,
    PersonGroup,
    Repair,
    RepairCategory,
    Skill,
    Urgency,
)
from app.seed import advance, fake_resident_id
from tests.conftest import TEST_PASSWORD

TIANHE = "440106"
YUEXIU = "440104"
SHUNDE = "440606"


@cache
def _password_hash() -> str:
    return hash_password(TEST_PASSWORD)


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@test.example")
    display_name = factory.Sequence(lambda n: f"测试用户{n}")
    role = Role.DONOR
    password_hash = factory.LazyFunction(_password_hash)

    class Params:
        caseworker = factory.Trait(role=Role.CASEWORKER, area_code=TIANHE)
        verifier = factory.Trait(role=Role.VERIFIER, area_code=TIANHE)
        admin = factory.Trait(role=Role.ADMIN)
        company = factory.Trait(role=Role.COMPANY)
        team = factory.Trait(role=Role.TEAM)
        agent = factory.Trait(role=Role.AGENT, area_code=TIANHE)


class OrganisationFactory(Base):
    class Meta:
        model = Organisation

    kind = OrgKind.COMPANY
    name = factory.Sequence(lambda n: f"爱心企业{n}")
    licence_number = factory.Sequence(lambda n: f"91440101MA{n:06d}0X")
    district_code = TIANHE
    status = OrgStatus.PENDING

    class Params:
        verified = factory.Trait(
            status=OrgStatus.VERIFIED, verified_at=factory.LazyFunction(utcnow)
        )
        team = factory.Trait(kind=OrgKind.TEAM, licence_number=None)


def member_of(organisation: Organisation, role: MemberRole = MemberRole.ADMIN) -> User:
    """A user of the right role belonging to ``organisation``."""
    user = UserFactory(role=Role.COMPANY if organisation.kind is OrgKind.COMPANY else Role.TEAM)
    db.session.add(Membership(user=user, organisation=organisation, role=role))
    db.session.flush()
    db.session.refresh(user)
    return user


class HouseholdFactory(Base):
    class Meta:
        model = Household

    district_code = TIANHE
    created_by_id = factory.LazyAttribute(
        lambda o: UserFactory(caseworker=True, area_code=o.district_code).id
    )
    name = factory.Sequence(lambda n: f"户主{n}")
    id_number = factory.Sequence(lambda n: fake_resident_id(__import__("random").Random(n), TIANHE))
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    address = factory.Sequence(lambda n: f"天河区测试村{n}号")
    lat = 23.1401
    lng = 113.3612
    group = PersonGroup.ELDERLY
    need_score = 1


class _NeedBase(Base):
    class Meta:
        abstract = True

    household = factory.SubFactory(HouseholdFactory)
    created_by_id = factory.SelfAttribute("household.created_by_id")
    district_code = factory.SelfAttribute("household.district_code")
    title = factory.Sequence(lambda n: f"需求{n}")
    story = "一位独居老人需要帮助，生活比较困难。"
    category = CareCategory.LIVING
    urgency = Urgency.NORMAL
    deadline = factory.LazyFunction(lambda: local_today() + timedelta(days=30))
    approx_lat = 23.125
    approx_lng = 113.375
    state = NeedState.DRAFT


class MicroWishFactory(_NeedBase):
    class Meta:
        model = MicroWish

    item = "电饭煲"
    quantity = 1
    estimated_value_yuan = 300


class FarmHelpFactory(_NeedBase):
    class Meta:
        model = FarmHelp

    task = "春耕插秧"
    window_start = factory.LazyFunction(lambda: local_today() + timedelta(days=5))
    window_end = factory.LazyFunction(lambda: local_today() + timedelta(days=7))
    volunteers_needed = 10
    hours_per_volunteer = 4


class RepairFactory(_NeedBase):
    class Meta:
        model = Repair

    repair_category = RepairCategory.GRAB_BARS
    skills_required = "carpenter"
    estimated_cost_yuan = 3000
    category = CareCategory.HOUSING


def with_all_skills(organisation: Organisation) -> Organisation:
    """An organisation with every skill verified by an admin."""
    for skill in Skill:
        organisation.skills.append(OrganisationSkill(skill=skill.value, verified_at=utcnow()))
    db.session.flush()
    return organisation


def need_in_state(state: NeedState, factory_cls: type = MicroWishFactory, **kwargs: object):
    """A need taken to ``state`` through the real lifecycle, with fitting actors."""
    need = factory_cls(**kwargs)
    worker = db.session.get(User, need.created_by_id)
    verifier = UserFactory(verifier=True, area_code=need.district_code)
    claimer = UserFactory()  # a donor
    if factory_cls is FarmHelpFactory:
        claimer = member_of(OrganisationFactory(verified=True, team=True))
    elif factory_cls is RepairFactory:
        claimer = member_of(with_all_skills(OrganisationFactory(verified=True)))
    return advance(db.session, need, state, worker=worker, verifier=verifier, claimer=claimer)


class AreaFactory(Base):
    class Meta:
        model = Area

    district_code = TIANHE
    level = AreaLevel.TOWN
    name = factory.Sequence(lambda n: f"测试街道{n}")

    class Params:
        village = factory.Trait(
            level=AreaLevel.VILLAGE,
            name=factory.Sequence(lambda n: f"测试村{n}"),
            parent_id=factory.LazyAttribute(
                lambda o: AreaFactory(district_code=o.district_code).id
            ),
        )


def agent_in(area: Area) -> User:
    """A village agent bound to ``area``."""
    return UserFactory(agent=True, area_code=area.district_code, area_id=area.id)


# --- offers ------------------------------------------------------------------------------


def reviewed_permit(organisation: Organisation, days: int = 180):
    """Licence and hygiene permit valid for ``days`` more days, checked by an admin."""
    from app.offers.models import ProviderPermit

    today = local_today()
    permit = ProviderPermit(
        organisation_id=organisation.id,
        licence_expires_on=today + timedelta(days=days),
        hygiene_expires_on=today + timedelta(days=days),
        updated_at=utcnow() - timedelta(days=1),
        reviewed_at=utcnow(),
    )
    db.session.add(permit)
    db.session.flush()
    return permit


def restaurant() -> tuple[Organisation, User]:
    """A verified company with a reviewed permit, and its admin."""
    organisation = OrganisationFactory(verified=True)
    reviewed_permit(organisation)
    return organisation, member_of(organisation)


def meal_offer(admin: User, portions: int = 20, **changes: object):
    """A daily lunch offer (all week, 00:00-23:59 so a window is open whenever tests run)."""
    from datetime import time

    from app.offers import services as offers
    from app.offers.models import OfferKind

    data = offers.OfferData(
        kind=OfferKind.MEAL,
        title="爱心午餐",
        description="两荤一素，免费供应。",
        district_code=TIANHE,
        place="天河路1号 爱心餐厅",
        weekdays="1234567",
        window_start=time(0, 0),
        window_end=time(23, 59),
        portions_per_window=portions,
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return offers.post_offer(db.session, admin, data)


_recipient_numbers = __import__("itertools").count(1)


def recipient_account(district_code: str = TIANHE, phone: str | None = None):
    """A registered person in hardship (not linked to a household)."""
    from app.offers import services as offers

    n = next(_recipient_numbers)
    user = offers.register_recipient(
        db.session,
        f"r{n}@test.example",
        TEST_PASSWORD,
        "求助者",
        phone or f"137{n:08d}",
        district_code,
    )
    return user
