"""The demo's caseworker loop: towns and villages, the 低保 lines and local services, visit
rules, households with members and visit histories (some overdue: red households), 四必访
events, village agents agent1..agent5 with applications in every state. Everything goes
through the services, so each record is one a caseworker could have produced."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.households import services
from app.households.models import Area, Finding, LifeEvent, Relation, VisitMethod
from app.models_base import local_today, utcnow
from app.needs.models import Assistance, CareCategory, ConsentScope, Household, PersonGroup
from app.places import gazetteer

TOWNS = {
    "石牌街道": ["石牌村", "南兴社区"],
    "车陂街道": ["车陂村", "东圃社区"],
    "珠吉街道": ["珠村", "吉山村"],
    "新塘街道": ["新塘村", "凌塘村"],
    "龙洞街道": ["龙洞村", "筲箕窝社区"],
}
DIBAO_LINES = {"440100": 1120, "440300": 1365, "440600": 1150, "440400": 1150}
LOCAL_SERVICES = ["助餐", "助洁", "陪同就医", "康复训练", "心理疏导", "居家安全巡查", "代购代办"]
VISIT_RULES = {
    "assistance:tekun": 30,  # 特困: monthly
    "assistance:dibao": 90,  # 低保: quarterly
    "assistance:marginal": 90,
    "group:elderly": 60,
    "group:child_in_difficulty": 30,
    "alone_disabled": 7,  # living alone with a disability: weekly
    "event:illness": 3,
    "event:disaster": 2,
    "event:death": 3,
    "event:income_drop": 7,
}
MEMBER_NAMES = "秀兰建国桂芳志强小明小红家豪嘉怡子轩雨桐"
NOTES_FOUND = [
    "老人说电饭煲坏了，现在只能用小锅煮饭。",
    "屋顶有一处漏雨，雨天要用盆接水。",
    "孩子开学缺一个书包和文具。",
    "老人行动不便，复诊需要一辆轮椅。",
]
NOTES_WELL = ["精神状态不错，药按时在吃。", "家中整洁，子女每周回来一次。", "已领到本月低保金。"]
APPLICATIONS = [
    ("黄阿伯", "老人腿脚不便，想要一辆轻便轮椅，方便去卫生院复诊。", CareCategory.MEDICAL),
    ("李阿婆", "独居老人家里的热水器坏了，冬天洗澡困难，希望更换。", CareCategory.LIVING),
    ("陈大叔", "家中两亩稻谷成熟，本人住院无人收割，希望志愿者帮忙。", CareCategory.LIVING),
    ("梁小妹", "父母双亡，由奶奶抚养，开学需要校服和学习用品。", CareCategory.EDUCATION),
    ("何伯", "房屋电线老化，经常跳闸，担心起火，希望帮忙改造。", CareCategory.HOUSING),
    ("吴姨", "丈夫去世后收入骤降，孩子读书有困难，希望得到帮扶。", CareCategory.EDUCATION),
    ("郑叔", "中风后需要康复，家里没有扶手，起身很困难。", CareCategory.HOUSING),
]


def seed_caseworker_loop(
    session: Session,
    rng: random.Random,
    *,
    admin: User,
    caseworker: User,
    password_hash: str,
    id_for: Any,
    advance_to_confirmed: Any,
) -> str:
    """Fill in the caseworker's side. ``id_for(rng, district)`` makes a resident ID;
    ``advance_to_confirmed(need)`` takes a draft need to confirmed help (the seed's)."""
    from app.intake import services as intake
    from app.intake.models import ApplicationStatus
    from app.needs import services as needs
    from app.needs.models import NeedKind, Urgency

    district = caseworker.area_code or "440106"
    # Areas, city figures, rules (the admin's pages).
    villages: list[Area] = []
    for town_name, village_names in TOWNS.items():
        town = services.create_area(session, admin, district, town_name)
        villages += [services.create_area(session, admin, district, v, town) for v in village_names]
    for city in gazetteer.cities():
        line = DIBAO_LINES.get(city.code, 980 + 10 * (int(city.code[2:4]) % 8))
        services.set_dibao_line(session, admin, city.code, line)
    local = [services.add_local_service(session, admin, "440100", n) for n in LOCAL_SERVICES]
    services.set_visit_rules(session, admin, dict(VISIT_RULES))

    # The demo caseworker's households: circumstances, members, visits, events.
    households = list(
        session.scalars(
            select(Household).where(Household.created_by_id == caseworker.id).order_by(Household.id)
        )
    )
    now = utcnow()
    assistance_cycle = [Assistance.TEKUN, Assistance.DIBAO, Assistance.MARGINAL, Assistance.NONE]
    visits = 0
    for i, household in enumerate(households):
        village = villages[i % len(villages)]
        # Recorded some months ago: the visit schedule has had time to run.
        household.created_at = now - timedelta(days=120 + i)
        services.update_profile(
            session,
            household,
            caseworker,
            services.ProfileData(
                registered_district_code=rng.choice([district, district, "440104", "441881"]),
                town_id=village.parent_id,
                village_id=village.id,
                assistance=assistance_cycle[i % len(assistance_cycle)],
                lives_alone=i % 5 == 0,
                extra_groups=[rng.choice(list(PersonGroup))] if i % 3 == 0 else [],
                care_kinds=rng.sample(list(CareCategory), k=2),
                local_service_ids=[s.id for s in rng.sample(local, k=2)],
                consent_on=local_today() - timedelta(days=100 + i),
                consent_scope=ConsentScope.STORY if i % 4 else ConsentScope.STORY_PHOTOS,
                income_per_head_yuan=rng.choice([300, 520, 650, 900, 1100, 1600, 2600]),
                savings_yuan=rng.choice([0, 2000, 8000, 30000]),
                has_car=i % 11 == 10,
            ),
        )
        for n in range(rng.randint(0, 3)):
            services.add_member(
                session,
                household,
                caseworker,
                services.MemberData(
                    name=household.name[0] + "".join(rng.sample(MEMBER_NAMES, 2)),
                    relation=rng.choice([Relation.SPOUSE, Relation.CHILD, Relation.GRANDCHILD]),
                    birth_year=rng.choice([1948, 1956, 1975, 1988, 2012, 2016]),
                    disabled=(i + n) % 4 == 0,
                    seriously_ill=(i + n) % 6 == 1,
                    works=n == 1,
                ),
            )
        # A third are visited recently (green), a third a while back (yellow or due soon),
        # and a third not since they were recorded (overdue: red).
        pattern = 2 if i % 5 == 2 else i % 2
        days_back = {0: [50, 20, 5], 1: [58, 40], 2: []}[pattern]
        for d in days_back:
            found = d == 5 and i % 2 == 0
            services.log_visit(
                session,
                household,
                caseworker,
                services.VisitData(
                    visited_at=now - timedelta(days=d, hours=rng.randint(1, 8)),
                    method=rng.choice(list(VisitMethod)),
                    met=rng.choice(["户主", "女儿", "老伴", "邻居"]),
                    findings=[Finding.SHORT_OF_FOOD, Finding.LONELY]
                    if found
                    else [Finding.ALL_WELL],
                    note=rng.choice(NOTES_FOUND) if found else rng.choice(NOTES_WELL),
                    need_found=found,
                ),
            )
            visits += 1
        if i % 7 == 3:
            services.record_event(
                session,
                household,
                caseworker,
                rng.choice(list(LifeEvent)),
                local_today() - timedelta(days=1),
                "邻居反映，需尽快上门。",
            )
    if households:
        services.override_score(
            session,
            households[0],
            caseworker,
            2,
            "上门核实：老人独居且患重病，实际开支远超收入。",
        )

    # Village agents, and their applications in every state.
    agents = []
    for n in range(1, 6):
        village = villages[(n - 1) % len(villages)]
        agent = User(
            email=f"agent{n}@demo.example",
            display_name=f"{village.name}代办员{n}",
            role=Role.AGENT,
            area_code=district,
            area_id=village.id,
            password_hash=password_hash,
        )
        session.add(agent)
        agents.append(agent)
    session.flush()
    states = [
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.RETURNED,
        ApplicationStatus.ACCEPTED,
        ApplicationStatus.HELPED,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.SUBMITTED,
    ]
    for n, (state, (name, text, category)) in enumerate(zip(states, APPLICATIONS, strict=True)):
        agent = agents[n % len(agents)]
        application = intake.submit_application(
            session,
            agent,
            intake.ApplicationData(
                applicant_name=name,
                id_number=id_for(rng, district),
                phone=f"13{rng.randrange(0, 10**9):09d}",
                address=f"{services.area_name(session.get(Area, agent.area_id))}{n + 3}号",
                group=PersonGroup.ELDERLY if n % 2 == 0 else PersonGroup.ILL_OR_DISABLED,
                kind=NeedKind.MICRO_WISH,
                category=category,
                need_text=text,
            ),
        )
        if state is ApplicationStatus.RETURNED:
            intake.return_application(session, application, caseworker, "请补拍户口簿和低保证。")
        elif state is ApplicationStatus.WITHDRAWN:
            intake.withdraw(session, application, agent)
        elif state in (ApplicationStatus.ACCEPTED, ApplicationStatus.HELPED):
            need = intake.accept_application(
                session,
                application,
                caseworker,
                needs.NeedData(
                    kind=NeedKind.MICRO_WISH,
                    title="微心愿：轻便轮椅" if n % 2 else "微心愿：热水器",
                    story="老人行动不便，生活中遇到困难，希望得到一件实用的物品。",
                    category=category,
                    urgency=Urgency.NORMAL,
                    deadline=local_today() + timedelta(days=30),
                    item="轮椅" if n % 2 else "热水器",
                    quantity=1,
                    estimated_value_yuan=900,
                ),
            )
            if state is ApplicationStatus.HELPED:
                advance_to_confirmed(need)  # the application follows: "helped"
                intake.mark_helped(session, application)  # (a no-op once it has)
    checked, changed = services.turn_household_lights(session, now)
    return (
        f"{len(villages)} villages, {len(households)} households with {visits} visits, "
        f"{changed} household lights set, agents: agent1..agent5@demo.example"
    )
