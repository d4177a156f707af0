"""Household circumstances, members, 四必访 events, visit rules, visits, the explained score,
household lights and the sweep, points for visits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import NotAllowed, ValidationFailed
from app.households import services
from app.households.models import (
    Finding,
    HouseholdHistory,
    LifeEvent,
    Relation,
    Visit,
    VisitMethod,
    VisitStatus,
)
from app.households.score import MemberFacts, ScoreFacts, explain
from app.models_base import CHINA, local_today, utcnow
from app.needs.models import Assistance, Light, NeedState, PersonGroup
from app.notifications.models import Notification
from app.points.models import PointsEntry
from tests.factories import (
    TIANHE,
    YUEXIU,
    AreaFactory,
    HouseholdFactory,
    MicroWishFactory,
    UserFactory,
)


@pytest.fixture
def caseworker(session):
    return UserFactory(caseworker=True)


@pytest.fixture
def household(session, caseworker):
    return HouseholdFactory(created_by_id=caseworker.id)


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


def _rules(session, admin, **days):
    services.set_visit_rules(session, admin, {k.replace("__", ":"): v for k, v in days.items()})


def _visit(session, household, actor, at=None, **changes):
    data = services.VisitData(
        visited_at=at or utcnow() - timedelta(hours=1),
        method=changes.pop("method", VisitMethod.HOME),
        **changes,
    )
    return services.log_visit(session, household, actor, data)


# --- the score that explains itself --------------------------------------------------------


def test_score_explains_itself(app):
    from flask_babel import force_locale

    with force_locale("en"):
        _score_explains_itself()


def _score_explains_itself():
    score = explain(
        ScoreFacts(
            income_per_head_yuan=580,
            dibao_line_yuan=1000,
            savings_yuan=0,
            has_car=False,
            has_extra_house=False,
            members=[MemberFacts(age=80, disabled=True, seriously_ill=False, works=False)],
            recent_events=[],
            helped_last_12_months=0,
        )
    )
    assert score.value == 2
    text = [str(r) for r in score.reasons]
    assert "income 42% below the subsistence line" in text
    assert "a member with a severe disability" in text
    assert "no help received in the last 12 months" in text


def test_score_counts_against_assets_and_recent_help():
    score = explain(
        ScoreFacts(
            income_per_head_yuan=2500,
            dibao_line_yuan=1000,
            savings_yuan=None,
            has_car=True,
            has_extra_house=False,
            members=[],
            helped_last_12_months=3,
        )
    )
    assert score.value == -2  # clamped: -1 income, -1 car, -1 help
    assert score.reasons[0].points == -1


def test_score_in_chinese(app):
    from flask_babel import force_locale

    with force_locale("zh"):
        score = explain(
            ScoreFacts(
                income_per_head_yuan=580,
                dibao_line_yuan=1000,
                savings_yuan=None,
                has_car=False,
                has_extra_house=False,
                members=[MemberFacts(age=50, disabled=True, seriously_ill=False, works=True)],
            )
        )
        assert "收入低于低保线42%" in score.sentence
        assert "家中有重度残疾成员" in score.sentence
        assert "近12个月未获帮扶" in score.sentence


def test_profile_members_and_events_move_the_score(session, caseworker, household, admin):
    services.set_dibao_line(session, admin, "440100", 1000)
    services.update_profile(
        session,
        household,
        caseworker,
        services.ProfileData(
            registered_district_code=YUEXIU,
            assistance=Assistance.DIBAO,
            income_per_head_yuan=400,
        ),
    )
    assert household.registered_district_code == YUEXIU  # 户籍 kept beside residence
    assert household.computed_score == 2 and household.need_score == 2
    services.update_profile(
        session, household, caseworker, services.ProfileData(income_per_head_yuan=900)
    )
    assert household.need_score == 1
    services.add_member(
        session,
        household,
        caseworker,
        services.MemberData(name="老伴", relation=Relation.SPOUSE, birth_year=1945, disabled=True),
    )
    assert household.need_score == 2
    kinds = [h.kind for h in services.history_of(session, household)]
    assert kinds[:2] == ["member_added", "profile"]


def test_override_needs_a_reason_and_is_kept_in_history(session, caseworker, household):
    with pytest.raises(ValidationFailed):
        services.override_score(session, household, caseworker, -1, "  ")
    services.override_score(session, household, caseworker, -1, "已有子女按月赡养")
    assert household.need_score == -1 and household.score_override_reason == "已有子女按月赡养"
    services.refresh(session, household)
    assert household.need_score == -1  # a recomputation keeps the override
    services.override_score(session, household, caseworker, None, "子女已外出务工")
    assert household.need_score == household.computed_score
    texts = [h.text for h in services.history_of(session, household)]
    assert "-1: 已有子女按月赡养" in texts and "子女已外出务工" in texts


def test_profile_refuses_areas_of_another_district(session, caseworker, household, admin):
    other_town = AreaFactory(district_code=YUEXIU)
    with pytest.raises(ValidationFailed) as error:
        services.update_profile(
            session, household, caseworker, services.ProfileData(town_id=other_town.id)
        )
    assert "town_id" in error.value.errors
    town = AreaFactory()
    village = AreaFactory(village=True)  # under another town
    with pytest.raises(ValidationFailed) as error:
        services.update_profile(
            session,
            household,
            caseworker,
            services.ProfileData(town_id=town.id, village_id=village.id),
        )
    assert "village_id" in error.value.errors


def test_only_the_area_caseworker_edits(session, household):
    outsider = UserFactory(caseworker=True, area_code=YUEXIU)
    with pytest.raises(NotAllowed):
        services.update_profile(session, household, outsider, services.ProfileData())
    with pytest.raises(NotAllowed):
        _visit(session, household, outsider)


# --- visit rules and due dates -------------------------------------------------------------


def test_shortest_matching_rule_sets_the_due_date(session, caseworker, household, admin):
    household.created_at = datetime(2026, 1, 1, 2, tzinfo=UTC)
    household.group = PersonGroup.ELDERLY
    _rules(session, admin, assistance__tekun=30, group__elderly=90, alone_disabled=7)
    services.refresh(session, household)
    assert household.visit_due_on == date(2026, 4, 1)  # elderly: 90 days
    services.update_profile(
        session,
        household,
        caseworker,
        services.ProfileData(assistance=Assistance.TEKUN, lives_alone=True),
    )
    assert household.visit_due_on == date(2026, 1, 31)  # 特困: monthly
    services.add_member(
        session,
        household,
        caseworker,
        services.MemberData(name="本人", relation=Relation.HEAD, birth_year=1940, disabled=True),
    )
    assert household.visit_due_on == date(2026, 1, 8)  # alone with a disability: weekly


def test_a_visit_moves_the_due_date_and_an_event_brings_it_forward(
    session, caseworker, household, admin
):
    _rules(session, admin, group__elderly=90, event__illness=3)
    visited = utcnow() - timedelta(days=2)
    _visit(session, household, caseworker, at=visited)
    assert household.visit_due_on == visited.astimezone(CHINA).date() + timedelta(days=90)
    services.record_event(
        session, household, caseworker, LifeEvent.ILLNESS, local_today() - timedelta(days=1)
    )
    assert household.visit_due_on == utcnow().astimezone(CHINA).date() + timedelta(days=3)
    _visit(session, household, caseworker, at=utcnow())  # after the event was recorded
    assert household.visit_due_on > utcnow().astimezone(CHINA).date() + timedelta(days=80)


def test_visit_rules_refuse_bad_days(session, admin):
    with pytest.raises(ValidationFailed):
        _rules(session, admin, group__elderly=0)
    with pytest.raises(ValidationFailed):
        services.set_visit_rules(session, admin, {"group:nobody": 5})


def test_visit_validation(session, caseworker, household):
    with pytest.raises(ValidationFailed) as error:
        _visit(session, household, caseworker, at=utcnow() + timedelta(days=1))
    assert "visited_at" in error.value.errors
    with pytest.raises(ValidationFailed) as error:
        _visit(session, household, caseworker, need_found=True, note="")
    assert "note" in error.value.errors
    with pytest.raises(ValidationFailed) as error:
        _visit(
            session,
            household,
            caseworker,
            findings=[Finding.ALL_WELL, Finding.LONELY],
        )
    assert "findings" in error.value.errors


def test_due_list_is_overdue_first_and_own_area_only(session, caseworker, admin):
    _rules(session, admin, group__elderly=30)
    old = HouseholdFactory(created_by_id=caseworker.id)
    old.created_at = utcnow() - timedelta(days=40)
    soon = HouseholdFactory(created_by_id=caseworker.id)
    soon.created_at = utcnow() - timedelta(days=27)
    later = HouseholdFactory(created_by_id=caseworker.id)
    elsewhere = HouseholdFactory(district_code=YUEXIU)
    elsewhere.created_at = utcnow() - timedelta(days=40)
    for h in (old, soon, later, elsewhere):
        services.refresh(session, h)
    assert services.due_visits(session, caseworker) == [old, soon]


# --- household lights on fixed clocks -----------------------------------------------------


NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Guangzhou


def _lights(session, now=NOW):
    return services.turn_household_lights(session, now)


def test_lights_on_fixed_clocks(session, caseworker, household, admin):
    supervisor = UserFactory(verifier=True, area_code="440100")
    elsewhere = UserFactory(verifier=True, area_code=YUEXIU)
    _rules(session, admin, group__elderly=30)
    household.created_at = NOW - timedelta(days=10)
    _lights(session)
    assert (household.light, household.light_reason) == (Light.GREEN, "on_schedule")
    _lights(session, NOW + timedelta(days=16))
    assert (household.light, household.light_reason) == (Light.YELLOW, "visit_due_soon")
    notes = session.scalars(select(Notification).where(Notification.kind == "household_light"))
    assert [n.user_id for n in notes] == [caseworker.id]
    _lights(session, NOW + timedelta(days=21))
    assert (household.light, household.light_reason) == (Light.RED, "visit_overdue")
    told = {
        n.user_id
        for n in session.scalars(select(Notification).where(Notification.kind == "household_light"))
    }
    assert told == {caseworker.id, supervisor.id}  # red reaches the area's supervisor
    assert elsewhere.id not in told
    # Running it again changes nothing and tells nobody twice.
    before = session.scalar(select(func.count(Notification.id)))
    assert _lights(session, NOW + timedelta(days=21))[1] == 0
    assert session.scalar(select(func.count(Notification.id))) == before


def test_found_need_without_draft_then_without_help(session, caseworker, household, admin):
    found = utcnow() - timedelta(hours=2)
    visit = _visit(
        session, household, caseworker, at=found, need_found=True, note="屋顶漏雨，需要修缮"
    )
    _lights(session, found + timedelta(days=1))
    assert household.light is Light.GREEN
    _lights(session, found + timedelta(days=4))
    assert (household.light, household.light_reason) == (Light.YELLOW, "found_need_no_draft")
    need = MicroWishFactory(household=household, created_by_id=caseworker.id)
    services.link_found_need(session, visit, need, caseworker)
    _lights(session, found + timedelta(days=5))
    assert household.light is Light.GREEN
    _lights(session, found + timedelta(days=31))
    assert (household.light, household.light_reason) == (Light.RED, "found_need_no_help")


def test_the_sweep_turns_household_lights(session, caseworker, household, admin):
    from app.supervision.sweep import sweep

    _rules(session, admin, group__elderly=7)
    household.created_at = utcnow() - timedelta(days=30)
    report = sweep(session)
    assert report.households_checked >= 1 and household.light is Light.RED
    assert household.light_reason == "visit_overdue"


def test_household_board_red_first(session, caseworker, admin):
    _rules(session, admin, group__elderly=30)
    red = HouseholdFactory(created_by_id=caseworker.id)
    red.created_at = NOW - timedelta(days=40)
    yellow = HouseholdFactory(created_by_id=caseworker.id)
    yellow.created_at = NOW - timedelta(days=25)
    HouseholdFactory(created_by_id=caseworker.id).created_at = NOW
    _lights(session)
    board = services.household_board(session, caseworker)
    assert board.attention[:2] == [red, yellow]
    assert board.counts[Light.GREEN] >= 1


# --- points for visits ---------------------------------------------------------------------


def _points(session, user):
    return session.scalar(
        select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.owner_user_id == user.id
        )
    )


def test_visit_points_and_rejection(session, caseworker, household, app):
    visit = _visit(session, household, caseworker)
    assert _points(session, caseworker) == app.config["POINTS_PER_VISIT"]
    supervisor = UserFactory(verifier=True)
    with pytest.raises(NotAllowed):
        services.reject_visit(session, visit, UserFactory(verifier=True, area_code=YUEXIU), "x")
    services.reject_visit(session, visit, supervisor, "电话未接通，不算探访")
    assert visit.status is VisitStatus.REJECTED
    assert _points(session, caseworker) == 0
    from app.households.services import VISIT

    VISIT.apply(session, visit, "reinstate", supervisor)
    assert _points(session, caseworker) == app.config["POINTS_PER_VISIT"]


def test_quarterly_settlement(session, caseworker, household):
    from app.points.services import current_quarter, work_settlement

    _visit(session, household, caseworker)
    _visit(session, household, caseworker)
    rows = work_settlement(session, current_quarter(), [TIANHE])
    assert [(r.user.id, r.visits, r.points) for r in rows] == [(caseworker.id, 2, 10)]
    assert work_settlement(session, current_quarter(), [YUEXIU]) == []
    assert work_settlement(session, "2020Q5", None) == []


# --- through the pages ---------------------------------------------------------------------


def test_log_a_visit_that_finds_a_need_and_draft_it(client, auth, session, caseworker, household):
    auth.login(caseworker)
    page = client.get(f"/work/households/{household.id}/visit")
    assert page.status_code == 200 and "data-draft-key" in page.get_data(as_text=True)
    when = utcnow().astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/work/households/{household.id}/visit",
        data={
            "visited_at": when,
            "method": "home",
            "met": "户主",
            "findings": ["lonely", "short_of_food"],
            "note": "老人想要一个电饭煲。旧的已坏",
            "need_found": "y",
        },
    )
    assert response.status_code == 302
    assert "/need" in response.headers["Location"]
    visit = session.scalar(select(Visit))
    assert visit.finding_list == [Finding.LONELY, Finding.SHORT_OF_FOOD]
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "老人想要一个电饭煲" in form  # prefilled from what was found
    deadline = (local_today() + timedelta(days=20)).isoformat()
    response = client.post(
        response.headers["Location"],
        data={
            "kind": "micro_wish",
            "title": "电饭煲",
            "story": "老人的电饭煲坏了，希望有一个新的。",
            "category": "living",
            "urgency": "normal",
            "deadline": deadline,
            "item": "电饭煲",
            "quantity": "1",
            "estimated_value_yuan": "200",
        },
    )
    assert response.status_code == 302
    visit = session.get(Visit, visit.id)
    assert visit.draft_need_id is not None and visit.draft_need.state is NeedState.DRAFT
    page = client.get(f"/work/households/{household.id}").get_data(as_text=True)
    assert "电饭煲" in page and "探访" in page or "Visit" in page


def test_visit_page_keeps_input_on_error(client, auth, caseworker, household):
    auth.login(caseworker)
    response = client.post(
        f"/work/households/{household.id}/visit",
        data={"visited_at": "2099-01-01T10:00", "method": "phone", "met": "女儿", "note": "挺好"},
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="field-visited_at"' in text and "has-error" in text
    assert 'value="女儿"' in text and "data-has-errors" in text


def test_household_page_shows_score_report_and_history(
    client, auth, session, caseworker, household, admin
):
    services.set_dibao_line(session, admin, "440100", 1000)
    services.update_profile(
        session, household, caseworker, services.ProfileData(income_per_head_yuan=580)
    )
    auth.login(caseworker)
    text = client.get(f"/work/households/{household.id}").get_data(as_text=True)
    assert "收入低于低保线42%" in text
    assert session.scalar(select(func.count(HouseholdHistory.id))) >= 1


def test_forms_through_http(client, auth, session, caseworker, household):
    auth.login(caseworker)
    town = AreaFactory()
    response = client.post(
        f"/work/households/{household.id}/profile",
        data={
            "registered_district_code": YUEXIU,
            "town_id": str(town.id),
            "village_id": "",
            "assistance": "tekun",
            "extra_groups": ["ill_or_disabled"],
            "care_kinds": ["medical", "living"],
            "consent_on": local_today().isoformat(),
            "consent_scope": "story",
            "income_per_head_yuan": "300",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    response = client.post(
        f"/work/households/{household.id}/members",
        data={"name": "孙子", "relation": "grandchild", "birth_year": "2015"},
    )
    assert response.status_code == 302
    response = client.post(
        f"/work/households/{household.id}/events",
        data={"kind": "disaster", "occurred_on": local_today().isoformat()},
    )
    assert response.status_code == 302
    response = client.post(
        f"/work/households/{household.id}/score", data={"score": "2", "reason": ""}
    )
    assert response.status_code == 422
    response = client.post(
        f"/work/households/{household.id}/score", data={"score": "2", "reason": "台风后房屋受损"}
    )
    assert response.status_code == 302
    text = client.get(f"/work/households/{household.id}").get_data(as_text=True)
    assert "孙子" in text and "台风后房屋受损" in text and "特困" in text
    assert client.get("/work/visits").status_code == 200


def test_admin_keeps_areas_rules_and_cities(client, auth, session, admin):
    auth.login(admin)
    assert (
        client.post(f"/admin/areas?district={TIANHE}", data={"name": "石牌街道"}).status_code == 302
    )
    from app.households.models import Area

    town = session.scalar(select(Area).where(Area.name == "石牌街道"))
    response = client.post(
        f"/admin/areas?district={TIANHE}", data={"name": "石牌村", "parent_id": str(town.id)}
    )
    assert response.status_code == 302
    assert (
        client.post(f"/admin/areas?district={TIANHE}", data={"name": "石牌街道"}).status_code == 422
    )
    response = client.post(
        "/admin/visit-rules", data={"assistance:tekun": "30", "group:elderly": "x"}
    )
    assert response.status_code == 422
    response = client.post("/admin/visit-rules", data={"assistance:tekun": "30"})
    assert response.status_code == 302
    assert services.visit_rules(session) == {"assistance:tekun": 30}
    response = client.post(
        "/admin/cities",
        data={"city_code": "440100", "dibao_line_yuan": "1120", "service_name": "助餐"},
    )
    assert response.status_code == 302
    assert services.dibao_line_for(session, TIANHE) == 1120
    assert "助餐" in client.get("/admin/cities").get_data(as_text=True)


def test_the_score_orders_the_review_queue_and_the_board(session, caseworker):
    from app.needs import services as needs
    from tests.factories import need_in_state

    low = HouseholdFactory(created_by_id=caseworker.id, need_score=-1)
    high = HouseholdFactory(created_by_id=caseworker.id, need_score=2)
    older = need_in_state(NeedState.SUBMITTED, household=low, created_by_id=caseworker.id)
    newer = need_in_state(NeedState.SUBMITTED, household=high, created_by_id=caseworker.id)
    older.updated_at = utcnow() - timedelta(days=3)
    session.flush()
    verifier = UserFactory(verifier=True)
    assert needs.review_queue(session, verifier)[:2] == [newer, older]
    board = [n for n in needs.needs_for_caseworker(session, caseworker) if n in (older, newer)]
    assert board == [newer, older]
