"""Matching pages through the HTTP stack: who may see what, the explained
recommendations, the season plan and its acceptance (which books real places, never
more than a shift has)."""

from __future__ import annotations

import os
import threading
from datetime import time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import migrate
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
from app.extensions import make_engine
from app.matching import services
from app.models_base import local_today, utcnow
from app.needs.models import (
    CareCategory,
    FarmHelp,
    Household,
    Need,
    NeedState,
    PersonGroup,
    Urgency,
)
from app.shifts import services as shift_services
from app.shifts.models import Shift, ShiftSignup, SignupStatus
from tests.conftest import fresh_database
from tests.factories import (
    SHUNDE,
    YUEXIU,
    FarmHelpFactory,
    MicroWishFactory,
    OrganisationFactory,
    RepairFactory,
    UserFactory,
    member_of,
    need_in_state,
)

# Factory needs sit at (23.125, 113.375) in Tianhe.
NEAR = {"base_lat": 23.13, "base_lng": 113.36, "radius_km": 30}  # about 1.6 km away
FAR = {"base_lat": 22.80, "base_lng": 113.30, "radius_km": 30}  # about 37 km away


def _team(session, members: int = 3, **profile):
    """A verified team with a leader and ``members - 1`` more members."""
    org = OrganisationFactory(verified=True, team=True, **profile)
    leader = member_of(org)
    mates = [member_of(org, MemberRole.MEMBER) for _ in range(members - 1)]
    return org, leader, mates


def _farm_need(session, **kwargs):
    today = local_today()
    values = {"window_start": today + timedelta(days=1), "window_end": today + timedelta(days=6)}
    return need_in_state(NeedState.PUBLISHED, FarmHelpFactory, **(values | kwargs))


def _shift(session, need, places, day=None, start=8):
    worker = session.get(User, need.created_by_id)
    return shift_services.add_shift(
        session,
        need,
        worker,
        shift_services.ShiftData(
            day=day or need.window_start,
            start_time=time(start),
            end_time=time(start + 4),
            places=places,
        ),
    )


def _caseworker(session, need) -> User:
    return session.get(User, need.created_by_id)


# --- permissions ---------------------------------------------------------------------------

PAGES = [
    ("get", "/match/needs"),
    ("get", "/organisation/matching"),
    ("get", "/work/plan"),
    ("post", "/work/plan/accept"),
]


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, session, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_anonymous_need_matches_redirect(client, session):
    need = _farm_need(session)
    response = client.get(f"/work/needs/{need.id}/matches")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_roles_get_403(client, auth, session, no_mail):
    need = _farm_need(session)
    org, leader, (mate, *_) = _team(session, **NEAR)
    stranger = UserFactory(caseworker=True, area_code=SHUNDE)  # another district
    verifier = UserFactory(verifier=True)
    donor = UserFactory()
    expected = {
        donor: [
            "/match/needs",
            "/organisation/matching",
            "/work/plan",
            f"/work/needs/{need.id}/matches",
        ],
        mate: ["/match/needs", "/organisation/matching"],  # a member, not the leader
        leader: ["/work/plan", f"/work/needs/{need.id}/matches"],
        verifier: ["/work/plan", f"/work/needs/{need.id}/matches", "/match/needs"],
        stranger: [f"/work/needs/{need.id}/matches"],
        _caseworker(session, need): ["/match/needs", "/organisation/matching"],
    }
    for user, paths in expected.items():
        auth.login(user)
        for path in paths:
            assert client.get(path).status_code == 403, (user, path)
        auth.logout()
    auth.login(leader)
    assert client.post("/work/plan/accept", data={"line": "1:1:1"}).status_code == 403


# --- the matching profile ------------------------------------------------------------------


def test_leader_sets_base_radius_size_and_weekdays(client, auth, session):
    org, leader, _ = _team(session)
    auth.login(leader)
    page = client.get("/organisation/matching")
    assert page.status_code == 200 and 'name="weekdays"' in page.get_data(as_text=True)
    response = client.post(
        "/organisation/matching",
        data={"district_code": YUEXIU, "radius_km": "25", "team_size": "4", "weekdays": ["6", "7"]},
    )
    assert response.status_code == 302
    org = session.get(type(org), org.id)
    from app.places import gazetteer

    centre = gazetteer.get(YUEXIU)
    assert (org.base_lat, org.base_lng) == (centre.lat, centre.lng)
    assert (org.radius_km, org.team_size, org.available_weekdays) == (25, 4, "67")
    response = client.post(
        "/organisation/matching",
        data={"base_lat": "23.2", "base_lng": "113.3", "radius_km": "40", "weekdays": ["1"]},
    )
    assert response.status_code == 302
    org = session.get(type(org), org.id)
    assert (org.base_lat, org.base_lng, org.available_weekdays) == (23.2, 113.3, "1")


@pytest.mark.parametrize(
    "data",
    [
        {"base_lat": "23.2", "radius_km": "30", "weekdays": ["1"]},  # latitude alone
        {"base_lat": "40.0", "base_lng": "116.4", "radius_km": "30", "weekdays": ["1"]},  # Beijing
        {"district_code": YUEXIU, "radius_km": "0", "weekdays": ["1"]},
        {"district_code": YUEXIU, "radius_km": "30"},  # no weekday
        {"radius_km": "30", "weekdays": ["1"]},  # neither district nor point
    ],
)
def test_bad_profiles_are_refused(client, auth, session, data):
    org, leader, _ = _team(session)
    auth.login(leader)
    response = client.post("/organisation/matching", data=data)
    assert response.status_code == 422
    assert session.get(type(org), org.id).base_lat is None


def test_the_organisation_page_links_to_matching(client, auth, session):
    org, leader, _ = _team(session)
    auth.login(leader)
    assert 'id="matching-link"' in client.get("/organisation").get_data(as_text=True)


# --- recommendations -----------------------------------------------------------------------


def test_leader_without_a_base_is_asked_for_one(client, auth, session):
    _farm_need(session)
    org, leader, _ = _team(session)
    auth.login(leader)
    page = client.get("/match/needs").get_data(as_text=True)
    assert 'id="no-base"' in page


def test_team_sees_near_open_needs_with_reasons(client, auth, session, no_mail):
    near = _farm_need(session, title="帮忙插秧", urgency=Urgency.HIGH)
    _shift(session, near, places=4)
    no_shift = _farm_need(session, title="还没有班次")
    far = _farm_need(session, title="太远的农活", approx_lat=23.6, approx_lng=113.6)
    _shift(session, far, places=4)
    wish = need_in_state(NeedState.PUBLISHED, MicroWishFactory, title="电饭煲心愿")
    org, leader, _ = _team(session, **NEAR)
    auth.login(leader)
    page = client.get("/match/needs").get_data(as_text=True)
    assert f'id="match-{near.id}"' in page and "帮忙插秧" in page
    # No open shift, too far, or a kind teams do not take: not recommended.
    for need in (no_shift, far, wish):
        assert f'id="match-{need.id}"' not in page
    for factor in ("distance", "skills", "urgency", "waiting"):
        assert f'data-factor="{factor}"' in page
    assert 'id="excluded"' in page


def test_company_sees_repairs_only_with_verified_skills(client, auth, session, no_mail):
    repair = need_in_state(NeedState.PUBLISHED, RepairFactory, skills_required="electrician")
    wish = need_in_state(NeedState.PUBLISHED, MicroWishFactory)
    company = OrganisationFactory(verified=True, **NEAR)
    admin = member_of(company)
    company.skills.append(OrganisationSkill(skill="electrician"))  # declared, not verified
    session.flush()
    auth.login(admin)
    page = client.get("/match/needs").get_data(as_text=True)
    assert f'id="match-{wish.id}"' in page and f'id="match-{repair.id}"' not in page
    skill = session.scalar(
        select(OrganisationSkill).where(OrganisationSkill.organisation_id == company.id)
    )
    skill.verified_at = utcnow()
    page = client.get("/match/needs").get_data(as_text=True)
    assert f'id="match-{repair.id}"' in page
    # The repair uses a verified skill: it scores above the wish at the same place.
    assert page.index(f'id="match-{repair.id}"') < page.index(f'id="match-{wish.id}"')


def test_caseworker_sees_nearby_verified_teams_for_a_need(client, auth, session, no_mail):
    need = _farm_need(session)
    _shift(session, need, places=5)
    near, _, _ = _team(session, name="近处的队", **NEAR)
    far, _, _ = _team(session, name="远处的队", **FAR)
    pending = OrganisationFactory(team=True, name="未审核的队", **NEAR)
    member_of(pending)
    auth.login(_caseworker(session, need))
    page = client.get(f"/work/needs/{need.id}/matches").get_data(as_text=True)
    assert f'id="org-{near.id}"' in page
    assert f'id="org-{far.id}"' not in page and f'id="org-{pending.id}"' not in page
    assert 'data-factor="distance"' in page
    assert client.get("/work/needs/99999/matches").status_code == 404


# --- season planning -----------------------------------------------------------------------


def _booked(session, shift_id):
    return session.scalars(
        select(ShiftSignup).where(
            ShiftSignup.shift_id == shift_id, ShiftSignup.status == SignupStatus.BOOKED
        )
    ).all()


def test_caseworker_sees_the_plan_and_accepting_books_the_places(client, auth, session, no_mail):
    need = _farm_need(session)
    shift = _shift(session, need, places=4)
    org, leader, mates = _team(session, members=3, **NEAR)
    other, other_leader, _ = _team(session, members=2, **FAR)  # out of reach
    auth.login(_caseworker(session, need))
    page = client.get("/work/plan").get_data(as_text=True)
    assert 'id="places-filled">3 / 4' in page
    assert f'value="{org.id}:{shift.id}:3"' in page
    assert f'value="{other.id}:' not in page
    response = client.post("/work/plan/accept", data={"line": f"{org.id}:{shift.id}:3"})
    assert response.status_code == 200
    assert 'data-people="3"' in response.get_data(as_text=True)
    signups = _booked(session, shift.id)
    assert sorted(s.user_id for s in signups) == sorted([leader.id] + [m.id for m in mates])
    assert {s.organisation_id for s in signups} == {org.id}
    assert session.get(Shift, shift.id).places_taken == 3
    need = session.get(Need, need.id)
    assert need.state is NeedState.CLAIMED and need.claimant_id == leader.id
    # The leader sees the booking on their own page.
    auth.logout()
    auth.login(leader)
    assert client.get("/claims/mine").status_code == 200


def test_leader_goes_first_when_fewer_places_are_planned(client, auth, session, no_mail):
    need = _farm_need(session)
    shift = _shift(session, need, places=1)
    org, leader, _ = _team(session, members=4, **NEAR)
    auth.login(_caseworker(session, need))
    client.post("/work/plan/accept", data={"line": f"{org.id}:{shift.id}:1"})
    assert [s.user_id for s in _booked(session, shift.id)] == [leader.id]


def test_accepting_checks_again_and_never_overbooks(client, auth, session, no_mail):
    need = _farm_need(session)
    shift = _shift(session, need, places=4)
    org, leader, mates = _team(session, members=3, **NEAR)
    rival, rival_leader, rival_mates = _team(session, members=3, **NEAR)
    auth.login(_caseworker(session, need))
    assert f'value="{org.id}:{shift.id}:' in client.get("/work/plan").get_data(as_text=True)
    # Meanwhile another team's leader books 3 of the 4 places themselves.
    shift_services.sign_up(
        session,
        session.get(Shift, shift.id),
        session.get(User, rival_leader.id),
        [rival_leader.id] + [m.id for m in rival_mates],
    )
    response = client.post("/work/plan/accept", data={"line": f"{org.id}:{shift.id}:3"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="short"' in page
    assert session.get(Shift, shift.id).places_taken == 4  # never more than its places
    assert len(_booked(session, shift.id)) == 4
    # Accepting the same plan again books nobody twice and reports why.
    again = client.post("/work/plan/accept", data={"line": f"{org.id}:{shift.id}:3"})
    assert 'id="failed"' in again.get_data(as_text=True)
    assert session.get(Shift, shift.id).places_taken == 4


def test_nobody_is_booked_on_two_shifts_of_one_day(client, auth, session, no_mail):
    need = _farm_need(session)
    morning = _shift(session, need, places=2, start=7)
    afternoon = _shift(session, need, places=2, start=13)
    org, leader, mates = _team(session, members=3, **NEAR)
    auth.login(_caseworker(session, need))
    page = client.get("/work/plan").get_data(as_text=True)
    assert 'id="places-filled">3 / 4' in page  # three people, one shift each
    # Even a hand-made plan asking for the whole team on both shifts books 3 people.
    client.post(
        "/work/plan/accept",
        data={"line": [f"{org.id}:{morning.id}:3", f"{org.id}:{afternoon.id}:3"]},
    )
    booked = _booked(session, morning.id) + _booked(session, afternoon.id)
    assert len(booked) == 3 and len({s.user_id for s in booked}) == 3


def test_teams_are_planned_only_on_their_weekdays(client, auth, session, no_mail):
    need = _farm_need(session)
    shift = _shift(session, need, places=2)
    off_day = str(shift.day.isoweekday())
    days = "".join(d for d in "1234567" if d != off_day)
    org, leader, _ = _team(session, members=2, available_weekdays=days, **NEAR)
    auth.login(_caseworker(session, need))
    assert 'id="empty-plan"' in client.get("/work/plan").get_data(as_text=True)
    response = client.post("/work/plan/accept", data={"line": f"{org.id}:{shift.id}:2"})
    assert 'id="failed"' in response.get_data(as_text=True)
    assert _booked(session, shift.id) == []


def test_plans_stay_in_the_caseworkers_area(client, auth, session, no_mail):
    need = _farm_need(session)
    shift = _shift(session, need, places=2)
    org, _, _ = _team(session, members=2, **NEAR)
    auth.login(UserFactory(caseworker=True, area_code=SHUNDE))
    assert f'value="{org.id}:{shift.id}' not in client.get("/work/plan").get_data(as_text=True)
    response = client.post("/work/plan/accept", data={"line": f"{org.id}:{shift.id}:2"})
    assert response.status_code == 403
    assert _booked(session, shift.id) == []


def test_plan_and_recommendation_pages_make_the_same_queries_for_more_data(
    client, auth, session, count_queries, no_mail
):
    worker = UserFactory(caseworker=True)

    def grow(n):
        for _ in range(n):
            need = _farm_need(session, created_by_id=worker.id)
            _shift(session, need, places=2)
            _shift(session, need, places=2, start=13)
            _team(session, members=2, **NEAR)

    def counted(path):
        with count_queries() as counter:
            page = client.get(path).get_data(as_text=True)
        return counter.count, page

    grow(1)
    org, leader, _ = _team(session, members=2, **NEAR)
    auth.login(leader)
    few_needs, _ = counted("/match/needs")
    auth.logout()
    auth.login(worker)
    few_plan, _ = counted("/work/plan")
    grow(4)
    many_plan, page = counted("/work/plan")
    assert page.count('class="plan-line"') >= 5
    assert many_plan == few_plan
    auth.logout()
    auth.login(leader)
    many_needs, page = counted("/match/needs")
    assert page.count('class="card need-card') == 5
    assert many_needs == few_needs


@pytest.mark.parametrize("line", ["", "1:2", "a:b:c", "1:2:3:4", "-1:2:3"])
def test_unreadable_plans_are_refused(client, auth, session, line):
    auth.login(UserFactory(caseworker=True))
    assert client.post("/work/plan/accept", data={"line": line}).status_code == 422


# --- real concurrency: caseworkers accepting plans at the same moment ----------------------


@pytest.fixture(scope="module")
def race_engine(app, tmp_path_factory):
    """Committed data in a database of its own, for threads with their own connections."""
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url = fresh_database(base, f"match_race_{os.getpid()}", tmp_path_factory.mktemp("mrace"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _race(n, attempt):
    barrier = threading.Barrier(n)
    results = [""] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = attempt(i)
        except Exception as exc:  # a crash is a result the test must see
            results[i] = f"crash:{type(exc).__name__}:{exc}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _race_world(session, teams: int, members: int):
    worker = User(
        email=f"cw{os.urandom(4).hex()}@race.example",
        display_name="社工",
        role=Role.CASEWORKER,
        area_code="440106",
        password_hash="x",
    )
    session.add(worker)
    session.flush()
    household = Household(
        district_code="440106",
        created_by_id=worker.id,
        name="户主",
        id_number="44010619491231002X",
        phone="13900000000",
        address="某村1号",
        group=PersonGroup.ELDERLY,
        need_score=1,
    )
    session.add(household)
    session.flush()
    need = FarmHelp(
        household_id=household.id,
        created_by_id=worker.id,
        district_code="440106",
        title="抢收",
        story="并发测试用的农活。",
        category=CareCategory.LIVING,
        urgency=Urgency.NORMAL,
        approx_lat=23.125,
        approx_lng=113.375,
        state=NeedState.PUBLISHED,
        published_at=utcnow(),
        task="收稻",
        volunteers_needed=100,
        hours_per_volunteer=4,
        window_start=local_today(),
        window_end=local_today() + timedelta(days=3),
    )
    session.add(need)
    session.flush()
    orgs = []
    for i in range(teams):
        org = Organisation(
            kind=OrgKind.TEAM,
            name=f"队{i}",
            district_code="440106",
            status=OrgStatus.VERIFIED,
            verified_at=utcnow(),
            **NEAR,
        )
        session.add(org)
        for k in range(members):
            user = User(
                email=f"m{k}.{i}.{os.urandom(4).hex()}@race.example",
                display_name=f"队员{k}",
                role=Role.TEAM,
                password_hash="x",
            )
            session.add(
                Membership(
                    user=user,
                    organisation=org,
                    role=MemberRole.ADMIN if k == 0 else MemberRole.MEMBER,
                )
            )
        orgs.append(org)
    session.flush()
    return worker, need, orgs


def _shift_row(session, need, worker, places, start):
    shift = Shift(
        need_id=need.id,
        day=local_today() + timedelta(days=1),
        start_time=time(start),
        end_time=time(start + 2),
        places=places,
        checkin_code="ABC234",
        created_by_id=worker.id,
    )
    session.add(shift)
    session.flush()
    return shift


def _accept_in_thread(app, race_engine, worker_id, items):
    with app.app_context(), Session(race_engine) as session:
        report = services.accept_plan(session, session.get(User, worker_id), items, local_today())
        session.commit()
        return f"booked:{report.people_booked}"


def test_concurrent_accepts_never_overbook_a_shift(app, race_engine):
    with Session(race_engine) as session:
        worker, need, orgs = _race_world(session, teams=10, members=2)
        shift = _shift_row(session, need, worker, places=5, start=8)
        session.commit()
        worker_id, shift_id, org_ids = worker.id, shift.id, [o.id for o in orgs]

    results = _race(
        10,
        lambda i: _accept_in_thread(
            app, race_engine, worker_id, [services.PlanItem(org_ids[i], shift_id, 2)]
        ),
    )
    assert not [r for r in results if r.startswith("crash")], results
    with Session(race_engine) as session:
        shift = session.get(Shift, shift_id)
        booked = session.scalars(
            select(ShiftSignup).where(
                ShiftSignup.shift_id == shift_id, ShiftSignup.status == SignupStatus.BOOKED
            )
        ).all()
        assert shift.places_taken == len(booked) == 5
        assert sum(int(r.split(":")[1]) for r in results) == 5


def test_concurrent_accepts_book_nobody_twice_on_one_day(app, race_engine):
    with Session(race_engine) as session:
        worker, need, (team,) = _race_world(session, teams=1, members=3)
        shifts = [_shift_row(session, need, worker, places=3, start=6 + 2 * k) for k in range(6)]
        session.commit()
        worker_id, team_id, shift_ids = worker.id, team.id, [s.id for s in shifts]

    results = _race(
        6,
        lambda i: _accept_in_thread(
            app, race_engine, worker_id, [services.PlanItem(team_id, shift_ids[i], 3)]
        ),
    )
    assert not [r for r in results if r.startswith("crash")], results
    with Session(race_engine) as session:
        booked = session.scalars(
            select(ShiftSignup).where(
                ShiftSignup.shift_id.in_(shift_ids), ShiftSignup.status == SignupStatus.BOOKED
            )
        ).all()
        users = [s.user_id for s in booked]
        assert len(users) == len(set(users)) == 3  # each member once that day
        assert sum(session.get(Shift, s).places_taken for s in shift_ids) == 3
