"""Village agents' applications: entered on a phone, seen only by their agent and the
district's caseworkers, accepted into a household and a draft need or returned with a
reason, "helped" once that need is confirmed, with points for the agent."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.intake import services
from app.intake.models import Application, ApplicationStatus
from app.models_base import local_today
from app.needs import services as needs
from app.needs.models import CareCategory, Household, NeedKind, NeedState, PersonGroup, Urgency
from app.notifications.models import Notification
from app.points.models import PointsEntry
from app.seed import fake_resident_id
from tests.factories import (
    TIANHE,
    YUEXIU,
    AreaFactory,
    HouseholdFactory,
    UserFactory,
    agent_in,
)


@pytest.fixture
def village(session):
    return AreaFactory(village=True)


@pytest.fixture
def agent(session, village):
    return agent_in(village)


@pytest.fixture
def caseworker(session):
    return UserFactory(caseworker=True)


def _data(**changes):
    values = {
        "applicant_name": "黄阿伯",
        "id_number": fake_resident_id(random.Random(7), TIANHE),
        "phone": "13800002222",
        "address": "天河区测试村8号",
        "group": PersonGroup.ELDERLY,
        "kind": NeedKind.MICRO_WISH,
        "category": CareCategory.LIVING,
        "need_text": "老人腿脚不便，想要一辆轻便轮椅。",
    }
    values.update(changes)
    return services.ApplicationData(**values)


def _need_data():
    return needs.NeedData(
        kind=NeedKind.MICRO_WISH,
        title="轻便轮椅",
        story="腿脚不便的老人外出复诊需要一辆轻便轮椅。",
        category=CareCategory.MEDICAL,
        urgency=Urgency.NORMAL,
        deadline=local_today() + timedelta(days=30),
        item="轮椅",
        quantity=1,
        estimated_value_yuan=900,
    )


def test_agent_submits_and_caseworker_accepts(session, agent, caseworker, village):
    application = services.submit_application(session, agent, _data())
    assert application.district_code == TIANHE and application.area_id == village.id
    assert services.intake_queue(session, caseworker) == [application]
    need = services.accept_application(session, application, caseworker, _need_data())
    assert application.status is ApplicationStatus.ACCEPTED
    household = session.get(Household, application.household_id)
    assert household.name == "黄阿伯" and household.village_id == village.id
    assert household.town_id == village.parent_id
    assert need.state is NeedState.DRAFT and application.need_id == need.id
    assert services.intake_queue(session, caseworker) == []
    told = session.scalar(select(Notification).where(Notification.user_id == agent.id))
    assert told is not None and told.kind == "application_accepted"
    assert "黄阿伯" not in told.body  # by number, never by name


def test_accept_links_an_existing_household(session, agent, caseworker):
    existing = HouseholdFactory(created_by_id=caseworker.id)
    application = services.submit_application(session, agent, _data(id_number=existing.id_number))
    services.accept_application(session, application, caseworker, _need_data())
    assert application.household_id == existing.id
    assert session.scalar(select(func.count(Household.id))) == 1


def test_return_with_reason_then_resubmit(session, agent, caseworker):
    application = services.submit_application(session, agent, _data())
    with pytest.raises(ValidationFailed):
        services.return_application(session, application, caseworker, " ")
    services.return_application(session, application, caseworker, "请补拍身份证背面")
    assert application.status is ApplicationStatus.RETURNED
    assert application.return_reason == "请补拍身份证背面"
    with pytest.raises(NotAllowed):
        services.correct_and_resubmit(session, application, UserFactory(agent=True), _data())
    services.correct_and_resubmit(session, application, agent, _data(phone="13800003333"))
    assert application.status is ApplicationStatus.SUBMITTED and application.phone == "13800003333"
    history = [e.action for e in services.APPLICATION.history(session, application)]
    assert history == ["return", "resubmit"]


def test_only_the_district_caseworker_decides(session, agent):
    application = services.submit_application(session, agent, _data())
    outsider = UserFactory(caseworker=True, area_code=YUEXIU)
    with pytest.raises(NotAllowed):
        services.accept_application(session, application, outsider, _need_data())
    with pytest.raises(NotAllowed):
        services.return_application(session, application, outsider, "不是本区")
    with pytest.raises(NotAllowed):
        services.accept_application(session, application, agent, _need_data())


def test_application_validation(session, agent):
    with pytest.raises(ValidationFailed) as error:
        services.submit_application(
            session, agent, _data(id_number="440106194912310021", need_text="短")
        )
    assert set(error.value.errors) == {"id_number", "need_text"}
    with pytest.raises(NotAllowed):
        services.submit_application(session, UserFactory(caseworker=True), _data())


def test_confirmed_help_marks_helped_and_pays_the_agent(session, agent, caseworker, app):
    from app.seed import advance
    from app.supervision.sweep import sweep

    application = services.submit_application(session, agent, _data())
    need = services.accept_application(session, application, caseworker, _need_data())
    advance(
        session,
        need,
        NeedState.CONFIRMED,
        worker=caseworker,
        verifier=UserFactory(verifier=True),
        claimer=UserFactory(),
    )
    assert application.status is ApplicationStatus.HELPED  # from the need's own event
    sweep(session)
    assert application.status is ApplicationStatus.HELPED
    points = session.scalar(
        select(func.sum(PointsEntry.amount)).where(PointsEntry.owner_user_id == agent.id)
    )
    assert points == app.config["POINTS_PER_APPLICATION"]
    sweep(session)  # nothing twice
    assert (
        session.scalar(
            select(func.sum(PointsEntry.amount)).where(PointsEntry.owner_user_id == agent.id)
        )
        == app.config["POINTS_PER_APPLICATION"]
    )
    with pytest.raises(InvalidTransition):
        services.APPLICATION.apply(session, application, "helped", None)


# --- through the pages ---------------------------------------------------------------------


FORM = {
    "applicant_name": "黄阿伯",
    "phone": "13800002222",
    "address": "天河区测试村8号",
    "group": "elderly",
    "kind": "micro_wish",
    "category": "living",
    "need_text": "老人腿脚不便，想要一辆轻便轮椅。",
}


def test_agent_pages_show_only_their_own(client, auth, session, agent, village):
    other = services.submit_application(session, agent_in(village), _data())
    auth.login(agent)
    response = client.post(
        "/agent/applications/new",
        data={**FORM, "id_number": fake_resident_id(random.Random(3), TIANHE)},
    )
    assert response.status_code == 302
    mine = session.scalar(select(Application).where(Application.agent_id == agent.id))
    home = client.get("/agent/").get_data(as_text=True)
    assert f"#{mine.id}" in home and f"#{other.id} " not in home
    assert client.get(f"/agent/applications/{mine.id}").status_code == 200
    assert client.get(f"/agent/applications/{other.id}").status_code == 404
    assert client.get(f"/work/intake/{other.id}").status_code == 403
    assert client.get(f"/work/households/{HouseholdFactory().id}").status_code == 403


def test_agent_form_keeps_input_on_error(client, auth, agent):
    auth.login(agent)
    response = client.post("/agent/applications/new", data={**FORM, "id_number": "123"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'value="黄阿伯"' in text and 'id="field-id_number"' in text


def test_caseworker_accepts_and_returns_through_pages(client, auth, session, agent, caseworker):
    first = services.submit_application(session, agent, _data())
    second = services.submit_application(
        session, agent, _data(id_number=fake_resident_id(random.Random(9), TIANHE))
    )
    auth.login(caseworker)
    queue = client.get("/work/intake").get_data(as_text=True)
    assert "黄阿伯" in queue
    page = client.get(f"/work/intake/{first.id}").get_data(as_text=True)
    assert "老人腿脚不便" in page  # the need form starts from the agent's words
    deadline = (local_today() + timedelta(days=20)).isoformat()
    response = client.post(
        f"/work/intake/{first.id}",
        data={
            "kind": "micro_wish",
            "title": "轻便轮椅",
            "story": "腿脚不便的老人外出复诊需要一辆轻便轮椅。",
            "category": "medical",
            "urgency": "normal",
            "deadline": deadline,
            "item": "轮椅",
            "quantity": "1",
            "estimated_value_yuan": "900",
        },
    )
    assert response.status_code == 302 and "/work/needs/" in response.headers["Location"]
    response = client.post(f"/work/intake/{second.id}/return", data={"note": "地址不完整"})
    assert response.status_code == 302
    assert session.get(Application, second.id).status is ApplicationStatus.RETURNED
    assert session.get(Application, first.id).status is ApplicationStatus.ACCEPTED


def test_admin_creates_an_agent(client, auth, session, village):
    auth.login(UserFactory(admin=True))
    response = client.post(
        "/admin/agents",
        data={
            "email": "new-agent@test.example",
            "display_name": "村代办",
            "area_id": str(village.id),
            "password": "a-long-enough-password-1",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    from app.accounts.models import Role, User

    user = session.scalar(select(User).where(User.email == "new-agent@test.example"))
    assert user.role is Role.AGENT and user.area_id == village.id and user.area_code == TIANHE
