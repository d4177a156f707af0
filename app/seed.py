"""A realistic demo: every Guangdong city, all three kinds of need in every state, and the
documented demo accounts. Needs reach their states through the real lifecycle, so every
timeline is one a caseworker could have produced."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import services as accounts
from app.accounts.models import (
    MemberRole,
    Membership,
    Organisation,
    OrganisationSkill,
    OrgKind,
    OrgStatus,
    Role,
    TeamInvite,
    User,
)
from app.claims.models import Claim
from app.models_base import CHINA, local_today, utcnow
from app.needs import lifecycle
from app.needs import services as needs
from app.needs.models import (
    CareCategory,
    Household,
    Need,
    NeedKind,
    NeedState,
    PersonGroup,
    RepairCategory,
    Skill,
    Urgency,
)
from app.places import gazetteer

DEMO_PASSWORD = "shanlian-demo-2026"  # noqa: S105 - documented, for the demo only
DEMO_DOMAIN = "demo.example"
DEMO_CASEWORKER_DISTRICT = "440106"  # 天河区, Guangzhou
N_DONORS, N_COMPANIES, N_TEAMS = 50, 10, 10

# The lifecycle path that brings a new draft to each state.
PATHS: dict[NeedState, list[str]] = {
    NeedState.DRAFT: [],
    NeedState.SUBMITTED: ["submit"],
    NeedState.REJECTED: ["submit", "reject"],
    NeedState.PUBLISHED: ["submit", "approve"],
    NeedState.CLAIMED: ["submit", "approve", "claim"],
    NeedState.DELIVERED: ["submit", "approve", "claim", "deliver"],
    NeedState.CONFIRMED: ["submit", "approve", "claim", "deliver", "confirm"],
    NeedState.CLOSED: ["submit", "approve", "claim", "deliver", "confirm", "close"],
    NeedState.CANCELLED: ["submit", "approve", "cancel"],
    NeedState.EXPIRED: ["submit", "approve", "expire"],
}
NOTES = {
    "reject": "故事中透露了门牌号，请删去后重新提交。",
    "cancel": "家庭已通过其他渠道解决。",
}

SURNAMES = "陈李黄张梁林刘吴罗何郑杨谢冯朱曾彭邓"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华"
WISHES: list[tuple[str, str, int, CareCategory]] = [
    (
        "书包和文具",
        "读小学的孩子想要一个新书包和一套文具，开学就能用上。",
        120,
        CareCategory.EDUCATION,
    ),
    (
        "电饭煲",
        "独居老人的电饭煲坏了，每天只能用小锅煮饭，希望有一个新的电饭煲。",
        260,
        CareCategory.LIVING,
    ),
    ("冬季棉被", "家中老人怕冷，旧被子已经用了十多年，想要两床厚棉被。", 300, CareCategory.LIVING),
    ("学习台灯", "初中生晚上写作业光线不足，希望有一盏护眼台灯。", 150, CareCategory.EDUCATION),
    ("助听器", "老人听力下降，与家人交流困难，希望配一副助听器。", 1800, CareCategory.MEDICAL),
    ("轮椅", "腿脚不便的老人外出复诊需要一辆轻便轮椅。", 900, CareCategory.MEDICAL),
    ("电风扇", "夏天闷热，家中没有风扇，希望有一台落地扇。", 180, CareCategory.LIVING),
]
FARM_TASKS = [
    ("春耕插秧", "家中没有劳动力，两亩水田等着插秧，希望志愿者帮忙。"),
    ("秋收割稻", "稻谷已经成熟，老人无力收割，担心遇上台风。"),
    ("采摘荔枝", "果园的荔枝到了采摘期，需要人手帮忙采摘和装箱。"),
    ("种植花生", "想在坡地种上花生，需要帮忙翻地和播种。"),
]
REPAIRS: list[tuple[str, str, RepairCategory, list[Skill], int]] = [
    (
        "电线老化改造",
        "屋内电线老化裸露，存在触电和火灾隐患，需要重新布线。",
        RepairCategory.ELECTRICAL,
        [Skill.ELECTRICIAN],
        6_000,
    ),
    (
        "燃气阀门更换",
        "厨房燃气软管老化，阀门漏气，需要更换。",
        RepairCategory.GAS,
        [Skill.GAS_FITTER],
        1_200,
    ),
    (
        "卫生间防滑改造",
        "老人在卫生间滑倒过一次，需要铺防滑地砖并安装扶手。",
        RepairCategory.ANTI_SLIP,
        [Skill.MASON],
        8_000,
    ),
    (
        "安装扶手",
        "楼梯和床边需要安装扶手，方便老人起身和上下楼。",
        RepairCategory.GRAB_BARS,
        [Skill.CARPENTER],
        2_500,
    ),
    (
        "屋顶补漏",
        "雨季屋顶漏水严重，房间墙面发霉，需要修补屋顶。",
        RepairCategory.ROOF,
        [Skill.ROOFER],
        15_000,
    ),
    (
        "危房加固重建",
        "房屋主体结构开裂，经鉴定需要加固重建，费用超出常规上限，需一事一议。",
        RepairCategory.OTHER,
        [Skill.MASON],
        120_000,
    ),
]


def _email(local: str) -> str:
    return f"{local}@{DEMO_DOMAIN}"


def fake_resident_id(rng: random.Random, district_code: str) -> str:
    birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 70))
    body = f"{district_code}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    total = sum(int(d) * w for d, w in zip(body, needs._ID_WEIGHTS, strict=True))
    return body + needs._ID_CHECK[total % 11]


def seed_demo_data(session: Session, seed: int = 2023, if_empty: bool = False) -> str | None:
    """Create the demo; returns a summary, or None when ``if_empty`` and accounts exist."""
    if if_empty and accounts.count_users(session):
        return None
    if session.scalar(select(User.id).where(User.email == _email("admin"))):
        raise RuntimeError("demo data already present (admin@demo.example exists)")
    rng = random.Random(seed)
    password_hash = accounts.hash_password(DEMO_PASSWORD)  # one hash: the password is shared

    def user(local: str, name: str, role: Role, area: str | None = None) -> User:
        u = User(
            email=_email(local),
            display_name=name,
            role=role,
            area_code=area,
            password_hash=password_hash,
        )
        session.add(u)
        return u

    admin = user("admin", "站点管理员", Role.ADMIN)
    caseworker = user("caseworker", "天河区社工 陈敏", Role.CASEWORKER, DEMO_CASEWORKER_DISTRICT)
    verifier = user("verifier", "省民政厅核对员 黄立", Role.VERIFIER, gazetteer.PROVINCE_CODE)
    donors = [user(f"donor{i}", f"爱心人士{i}", Role.DONOR) for i in range(1, N_DONORS + 1)]
    session.flush()

    companies = []
    for i in range(1, N_COMPANIES + 1):
        member = user(f"company{i}", f"企业联系人{i}", Role.COMPANY)
        district = rng.choice(gazetteer.districts())
        org = Organisation(
            kind=OrgKind.COMPANY,
            name=f"{gazetteer.city_of(district.code).name_zh}爱心企业{i}号有限公司",
            licence_number=f"91440{i:03d}MA5{i:04d}X{i % 10}0",
            district_code=district.code,
            # The last company waits for verification, so the admin desk is not empty.
            status=OrgStatus.PENDING if i == N_COMPANIES else OrgStatus.VERIFIED,
            verified_at=None if i == N_COMPANIES else utcnow(),
            verified_by_id=None if i == N_COMPANIES else admin.id,
        )
        session.add(org)
        session.add(Membership(user=member, organisation=org, role=MemberRole.ADMIN))
        if org.status is OrgStatus.VERIFIED:
            # Builders and suppliers (Shunde): every trade checked by the admin.
            for skill in Skill:
                org.skills.append(
                    OrganisationSkill(
                        skill=skill.value, verified_at=utcnow(), verified_by_id=admin.id
                    )
                )
        companies.append(member)
    teams = []
    for i in range(1, N_TEAMS + 1):
        leader = user(f"team{i}", f"志愿队长{i}", Role.TEAM)
        district = rng.choice(gazetteer.districts())
        org = Organisation(
            kind=OrgKind.TEAM,
            name=f"{district.name_zh}邻里帮志愿服务队{i}",
            district_code=district.code,
            status=OrgStatus.VERIFIED,
            verified_at=utcnow(),
            verified_by_id=admin.id,
        )
        session.add(org)
        session.add(Membership(user=leader, organisation=org, role=MemberRole.ADMIN))
        # Teams are several people (志愿汇): members who joined through an invitation link.
        for j in range(1, 4):
            member = user(f"team{i}.member{j}", f"志愿者{i}-{j}", Role.TEAM)
            session.add(Membership(user=member, organisation=org, role=MemberRole.MEMBER))
        session.add(
            TeamInvite(
                organisation=org,
                token=f"demo-team-{i}-{rng.randrange(10**8):08d}",
                created_by=leader,
                expires_at=utcnow() + timedelta(days=7),
            )
        )
        teams.append(leader)
    session.flush()

    city_caseworkers = {
        city.code: user(
            f"caseworker.{city.code}",
            f"{city.name_zh}社工",
            Role.CASEWORKER,
            gazetteer.districts(city.code)[0].code,
        )
        for city in gazetteer.cities()
    }
    session.flush()

    count = 0
    # The demo caseworker's district holds every kind in every state.
    for kind in NeedKind:
        for state in NeedState:
            _make_need(session, rng, caseworker, verifier, kind, state, donors, companies, teams)
            count += 1
    # Every city gets households and a spread of needs, most of them open.
    spread = [NeedState.PUBLISHED] * 5 + [
        NeedState.CLAIMED,
        NeedState.CONFIRMED,
        NeedState.CLOSED,
        NeedState.SUBMITTED,
    ]
    for city_code, worker in city_caseworkers.items():
        for i, state in enumerate(spread):
            kind = list(NeedKind)[(i + int(city_code[2:4])) % 3]
            _make_need(session, rng, worker, verifier, kind, state, donors, companies, teams)
            count += 1
    session.flush()
    _seed_points_shop_and_donations(session, rng, companies, city_caseworkers, caseworker)
    from app.demo.caseworker_loop import seed_caseworker_loop

    loop = seed_caseworker_loop(
        session,
        rng,
        admin=admin,
        caseworker=caseworker,
        password_hash=password_hash,
        id_for=fake_resident_id,
        advance_to_confirmed=lambda need: advance(
            session,
            need,
            NeedState.CONFIRMED,
            worker=caseworker,
            verifier=verifier,
            claimer=rng.choice(donors),
        ),
    )
    _spread_finished_needs_over_the_year(session, rng)
    from app.reports.rollups import refresh

    refresh(session)  # the dashboards and the transparency page show the demo at once
    from app.offers.demo import seed_offers

    offers_summary = seed_offers(session, password_hash, admin, caseworker, DEMO_DOMAIN)
    return (
        f"demo ready: {count} needs in {len(gazetteer.cities())} cities; {loop}; "
        f"{offers_summary}; accounts: "
        f"admin@, caseworker@, verifier@, donor1..{N_DONORS}@, company1..{N_COMPANIES}@, "
        f"team1..{N_TEAMS}@, agent1..5@{DEMO_DOMAIN}"
    )


def _spread_finished_needs_over_the_year(session: Session, rng: random.Random) -> None:
    """Move finished needs (and their events and claims) back by up to eleven months, so
    the report charts have a year to show. Finished needs carry no light, so nothing the
    sweep looks at changes."""
    from datetime import timedelta

    from app.claims.models import Claim
    from app.needs.models import NeedEvent

    finished = session.scalars(
        select(Need).where(Need.state.in_((NeedState.CONFIRMED, NeedState.CLOSED)))
    ).all()
    for need in finished:
        shift = timedelta(days=30 * rng.randint(0, 11) + rng.randint(0, 20))
        rows: list[tuple[object, tuple[str, ...]]] = [
            (need, ("created_at", "updated_at", "published_at"))
        ]
        rows += [
            (e, ("at",))
            for e in session.scalars(select(NeedEvent).where(NeedEvent.need_id == need.id))
        ]
        rows += [
            (c, ("created_at", "accepted_at", "delivered_at", "confirmed_at", "due_at"))
            for c in session.scalars(select(Claim).where(Claim.need_id == need.id))
        ]
        for row, columns in rows:
            for column in columns:
                value = getattr(row, column)
                if value is not None:
                    setattr(row, column, value - shift)
    session.flush()


def _make_household(session: Session, rng: random.Random, worker: User) -> Household:
    district_code = worker.area_code or DEMO_CASEWORKER_DISTRICT
    district = gazetteer.get(district_code)
    assert district is not None
    data = needs.HouseholdData(
        name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
        id_number=fake_resident_id(rng, district_code),
        phone=f"13{rng.randrange(0, 10**9):09d}",
        address=f"{district.name_zh}{rng.choice('东南西北')}村{rng.randrange(1, 300)}号",
        district_code=district_code,
        group=rng.choice(list(PersonGroup)),
        need_score=rng.randint(-2, 2),
        lat=round(district.lat + rng.uniform(-0.04, 0.04), 6),
        lng=round(district.lng + rng.uniform(-0.04, 0.04), 6),
    )
    return needs.create_household(session, worker, data)


def _need_data(rng: random.Random, kind: NeedKind) -> needs.NeedData:
    today = local_today()
    urgency = rng.choice(
        [Urgency.LOW, Urgency.NORMAL, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL]
    )
    deadline = today + timedelta(days=rng.randrange(7, 90))
    if kind is NeedKind.MICRO_WISH:
        item, story, value, category = rng.choice(WISHES)
        return needs.NeedData(
            kind=kind,
            title=f"微心愿：{item}",
            story=story,
            category=category,
            urgency=urgency,
            deadline=deadline,
            item=item,
            quantity=rng.randint(1, 2),
            estimated_value_yuan=value,
        )
    if kind is NeedKind.FARM_HELP:
        task, story = rng.choice(FARM_TASKS)
        start = today + timedelta(days=rng.randrange(3, 30))
        return needs.NeedData(
            kind=kind,
            title=f"助农耕：{task}",
            story=story,
            category=CareCategory.LIVING,
            urgency=urgency,
            deadline=deadline,
            task=task,
            window_start=start,
            window_end=start + timedelta(days=rng.randrange(0, 5)),
            volunteers_needed=rng.randint(4, 12),
            hours_per_volunteer=rng.choice([3, 4, 6]),
        )
    title, story, repair_category, skills, cost = rng.choice(REPAIRS)
    return needs.NeedData(
        kind=kind,
        title=f"安心善居：{title}",
        story=story,
        category=CareCategory.HOUSING,
        urgency=urgency,
        deadline=deadline,
        repair_category=repair_category,
        skills=skills,
        estimated_cost_yuan=cost,
    )


def _make_need(
    session: Session,
    rng: random.Random,
    worker: User,
    verifier: User,
    kind: NeedKind,
    state: NeedState,
    donors: list[User],
    companies: list[User],
    teams: list[User],
) -> Need:
    household = _make_household(session, rng, worker)
    need = needs.create_need(session, worker, household, _need_data(rng, kind))
    claimer = {
        NeedKind.MICRO_WISH: rng.choice(donors),
        NeedKind.FARM_HELP: rng.choice(teams),
        # Verified companies only (the last one is still pending).
        NeedKind.REPAIR: rng.choice(companies[:-1]),
    }[kind]
    if kind is NeedKind.FARM_HELP and need.window_start is not None:
        # One shift per person per day: pick a team whose leader is free that day.
        from app.shifts.services import free_members

        free = [
            t
            for t in teams
            if t.organisation is not None
            and any(m.id == t.id for m in free_members(session, t.organisation, need.window_start))
        ]
        claimer = rng.choice(free or teams)
    advance(session, need, state, worker=worker, verifier=verifier, claimer=claimer)
    return need


def advance(
    session: Session,
    need: Need,
    state: NeedState,
    *,
    worker: User,
    verifier: User,
    claimer: User | None = None,
) -> Need:
    """Take a fresh draft to ``state`` the way people would: through the lifecycle and the
    claims services, so claims, shifts, hours and follow-ups exist as they would for real.
    The claimer must be able to take the need (a donor or company for a micro-wish, a team
    leader for farm help, a company or team with the skills for a repair)."""
    from app.claims import services as claims
    from app.needs import fulfilment
    from app.shifts import services as shift_services

    claim: Claim | None = None
    for action in PATHS[state]:
        if action == "approve" and need.needs_cost_exception(
            current_app.config["REPAIR_COST_CAP_YUAN"]
        ):
            needs.approve_cost_exception(
                session, need, verifier, "经现场评估，属危房，一事一议批准。"
            )
        if action in ("approve", "reject"):
            lifecycle.transition(session, need, action, verifier, note=NOTES.get(action, ""))
        elif action == "expire":
            lifecycle.transition(session, need, action, None, note="已过截止日期")
        elif action == "cancel":
            fulfilment.cancel_need(session, need, worker, NOTES["cancel"])
        elif action == "claim":
            assert claimer is not None, "a claimer is needed to go past published"
            claim = _claim(session, need, worker, verifier, claimer)
        elif action == "deliver":
            if claim is None:
                _record_demo_hours(session, need)
                shift_services.farm_work_done(session, need, worker, "农活已完成")
            else:
                claims.mark_delivered(session, claim, claimer or worker, "已送达社工站")
        elif action == "confirm":
            if claim is None:
                shift_services.confirm_farm_work(session, need, worker)
            else:
                claims.confirm_delivery(session, claim, worker)
        elif action == "close":
            for visit in fulfilment.follow_ups_of(session, need):
                fulfilment.record_follow_up(session, visit, worker, "回访：家庭表示帮助很及时。")
            fulfilment.close_need(session, need, worker)
        else:
            lifecycle.transition(session, need, action, worker, note=NOTES.get(action, ""))
    return need


def _record_demo_hours(session: Session, need: Need) -> None:
    """Demo data only: the volunteers of past shifts checked in and out on the day (the
    real check-in needs the code on the day itself)."""
    from app.shifts.models import Shift, ShiftSignup

    signups = session.scalars(
        select(ShiftSignup)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(Shift.need_id == need.id)
    ).all()
    for signup in signups:
        shift = signup.shift
        start = datetime.combine(shift.day, shift.start_time, tzinfo=CHINA)
        signup.checked_in_at = start
        signup.checked_out_at = start + timedelta(minutes=shift.length_minutes)
        signup.minutes_worked = shift.length_minutes
    session.flush()


def _claim(
    session: Session, need: Need, worker: User, verifier: User, claimer: User
) -> Claim | None:
    """Claim (or, for farm help, staff a shift) and get the claim ready for delivery."""
    from app.claims import inspections
    from app.claims import services as claims
    from app.shifts import services as shift_services

    if need.kind is NeedKind.FARM_HELP:
        start = need.window_start or local_today()
        shift = shift_services.add_shift(
            session,
            need,
            worker,
            shift_services.ShiftData(
                day=start,
                start_time=time(8),
                end_time=time(12),
                places=min(need.volunteers_needed or 1, 4),
            ),
        )
        shift_services.sign_up(session, shift, claimer, [claimer.id])
        return None
    if need.kind is NeedKind.REPAIR:
        claim = claims.claim_need(
            session,
            need,
            claimer,
            plan="现场勘查后按标准施工，完工后清理现场。",
            plan_cost_yuan=need.estimated_cost_yuan,
        )
        claims.accept_claim(session, claim, worker)
        if claim.inspection_required:
            inspections.record_inspection(session, claim, verifier, True, "抽查合格")
        return claim
    return claims.claim_need(session, need, claimer)


REWARDS = [
    ("东北大米 10斤", "Rice, 5 kg", 120, 30),
    ("花生油 5升", "Peanut oil, 5 L", 200, 20),
    ("时令蔬菜包", "Seasonal vegetables", 60, 50),
    ("爱心企业牌匾", "Caring company plaque", 1000, 5),
]


def _seed_points_shop_and_donations(
    session: Session,
    rng: random.Random,
    companies: list[User],
    city_caseworkers: dict[str, User],
    caseworker: User,
) -> None:
    """Rewards for the points shop, and donations in kind (most received) so that the
    leaderboards and impact reports have something to show."""
    from app.donations import services as donations
    from app.points.models import Reward

    for name_zh, name_en, price, stock in REWARDS:
        session.add(Reward(name_zh=name_zh, name_en=name_en, price_points=price, stock=stock))
    items = [("大米", 80), ("食用油", 60), ("棉被", 120), ("书包", 90), ("电饭煲", 260)]
    workers = [caseworker, *city_caseworkers.values()]
    for i, company in enumerate(companies[:-1]):  # the unverified one cannot log
        for j in range(3):
            worker = workers[(i * 3 + j) % len(workers)]
            item, price = rng.choice(items)
            quantity = rng.randint(2, 20)
            logged = donations.log_donation(
                session,
                company,
                donations.DonationData(
                    item=item,
                    quantity=quantity,
                    value_yuan=price * quantity,
                    district_code=worker.area_code or DEMO_CASEWORKER_DISTRICT,
                    external_ref=f"DEMO-{i}-{j}",
                ),
            )
            if j < 2:
                donations.receive_donation(session, logged.donation, worker)
    session.flush()
