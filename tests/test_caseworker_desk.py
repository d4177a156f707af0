"""The caseworker's desk through HTTP: households, needs, edits, timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.models_base import local_today
from app.needs.models import Household, Need, NeedKind, NeedState
from app.seed import fake_resident_id
from tests.factories import HouseholdFactory, UserFactory, need_in_state

HOUSEHOLD = {
    "name": "李阿婆",
    "id_number": "",
    "phone": "13800001111",
    "address": "天河区石牌村12号",
    "district_code": "440106",
    "group": "elderly",
    "lat": "23.13",
    "lng": "113.35",
}


@pytest.fixture
def caseworker(session):
    return UserFactory(caseworker=True)


def _household(**changes):
    import random

    data = {**HOUSEHOLD, "id_number": fake_resident_id(random.Random(1), "440106")}
    data.update(changes)
    return data


def test_record_household_and_draft_each_kind(client, auth, caseworker, session):
    auth.login(caseworker)
    response = client.post("/work/households/new", data=_household())
    assert response.status_code == 302
    household = session.scalar(select(Household))
    assert household.name == "李阿婆" and household.need_score == 0  # computed, not typed
    deadline = (local_today() + timedelta(days=20)).isoformat()
    common = {
        "title": "需要帮助",
        "story": "老人独居，生活不便，需要社会帮助。",
        "category": "living",
        "urgency": "high",
        "deadline": deadline,
    }
    forms = {
        "micro_wish": {"item": "电饭煲", "quantity": "1", "estimated_value_yuan": "260"},
        "farm_help": {
            "task": "秋收割稻",
            "window_start": deadline,
            "window_end": deadline,
            "volunteers_needed": "8",
            "hours_per_volunteer": "4",
        },
        "repair": {
            "repair_category": "electrical",
            "skills": ["electrician"],
            "estimated_cost_yuan": "5000",
        },
    }
    for kind, extra in forms.items():
        response = client.post(
            f"/work/households/{household.id}/needs/new", data={"kind": kind, **common, **extra}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    needs = {n.kind: n for n in session.scalars(select(Need))}
    assert set(needs) == set(NeedKind)
    assert needs[NeedKind.REPAIR].skills[0].value == "electrician"
    assert needs[NeedKind.FARM_HELP].volunteers_needed == 8
    assert all(n.state is NeedState.DRAFT for n in needs.values())
    # The public point is the grid centre, not the household's exact point.
    assert (needs[NeedKind.MICRO_WISH].approx_lat, needs[NeedKind.MICRO_WISH].approx_lng) == (
        23.125,
        113.375,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id_number": "440106194912310021"}, "id_number"),  # bad checksum
        ({"phone": "12ab"}, "phone"),
        ({"district_code": "440104"}, "district_code"),  # not the caseworker's district
        ({"lat": "40.0", "lng": "116.4"}, "lat"),  # Beijing, not Guangdong
        ({"lng": ""}, "lat"),
    ],
)
def test_household_bad_input(client, auth, caseworker, session, changes, field):
    auth.login(caseworker)
    response = client.post("/work/households/new", data=_household(**changes))
    assert response.status_code == 422
    assert f'class="field has-error" id="field-{field}"' in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Household.id))) == 0


@pytest.mark.parametrize(
    ("kind", "fields", "bad_field"),
    [
        ("micro_wish", {"item": "", "quantity": "1", "estimated_value_yuan": "10"}, "item"),
        (
            "micro_wish",
            {"item": "书包", "quantity": "1", "estimated_value_yuan": ""},
            "estimated_value_yuan",
        ),
        (
            "farm_help",
            {
                "task": "插秧",
                "window_start": "2030-05-02",
                "window_end": "2030-05-01",
                "volunteers_needed": "3",
                "hours_per_volunteer": "4",
            },
            "window_end",
        ),
        (
            "farm_help",
            {
                "task": "插秧",
                "window_start": "2030-05-01",
                "window_end": "2030-05-02",
                "volunteers_needed": "3",
                "hours_per_volunteer": "20",
            },
            "hours_per_volunteer",
        ),
        ("repair", {"repair_category": "", "estimated_cost_yuan": "100"}, "repair_category"),
    ],
)
def test_need_bad_input(client, auth, caseworker, session, kind, fields, bad_field):
    household = HouseholdFactory(created_by_id=caseworker.id)
    auth.login(caseworker)
    response = client.post(
        f"/work/households/{household.id}/needs/new",
        data={
            "kind": kind,
            "title": "标题",
            "story": "一个足够长的故事，没有个人信息。",
            "category": "living",
            "urgency": "normal",
            **fields,
        },
    )
    assert response.status_code == 422
    assert f'id="field-{bad_field}"' in response.get_data(as_text=True)
    assert f'class="field has-error" id="field-{bad_field}"' in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Need.id))) == 0


def test_past_deadline_refused(client, auth, caseworker, session):
    household = HouseholdFactory(created_by_id=caseworker.id)
    auth.login(caseworker)
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    response = client.post(
        f"/work/households/{household.id}/needs/new",
        data={
            "kind": "micro_wish",
            "title": "书包",
            "story": "孩子需要新书包，旧的已经坏了。",
            "category": "education",
            "urgency": "normal",
            "deadline": yesterday,
            "item": "书包",
            "quantity": "1",
            "estimated_value_yuan": "100",
        },
    )
    assert response.status_code == 422


def test_edit_rejected_need_then_resubmit(client, auth, session):
    need = need_in_state(NeedState.REJECTED)
    caseworker = session.get(User, need.created_by_id)
    auth.login(caseworker)
    page = client.get(f"/work/needs/{need.id}").get_data(as_text=True)
    assert need.rejection_reason in page
    response = client.post(
        f"/work/needs/{need.id}/edit",
        data={
            "kind": "micro_wish",
            "title": "修改后的标题",
            "story": "修改后的故事，删去了门牌号。",
            "category": "living",
            "urgency": "normal",
            "item": "电饭煲",
            "quantity": "1",
            "estimated_value_yuan": "300",
        },
    )
    assert response.status_code == 302
    assert client.post(f"/work/needs/{need.id}/submit").status_code == 302
    need = session.get(Need, need.id)
    assert need.title == "修改后的标题" and need.state is NeedState.SUBMITTED
    actions = [e.action for e in need.events]
    assert actions[-2:] == ["edit", "submit"]


def test_published_need_cannot_be_edited(client, auth, session):
    need = need_in_state(NeedState.PUBLISHED)
    auth.login(session.get(User, need.created_by_id))
    assert client.get(f"/work/needs/{need.id}/edit").status_code == 403
    response = client.post(
        f"/work/needs/{need.id}/edit", data={"kind": "micro_wish", "title": "偷偷改"}
    )
    assert response.status_code == 403
    assert session.get(Need, need.id).title != "偷偷改"


def test_illegal_action_over_http_leaves_need_unchanged(client, auth, session):
    need = need_in_state(NeedState.DRAFT)
    auth.login(session.get(User, need.created_by_id))
    response = client.post(f"/work/needs/{need.id}/close")
    assert response.status_code == 409
    assert "草稿" in response.get_data(as_text=True)  # the message names the current state
    assert session.get(Need, need.id).state is NeedState.DRAFT
    assert client.post(f"/work/needs/{need.id}/fly").status_code == 404


def test_timeline_shows_every_step(client, auth, session):
    need = need_in_state(NeedState.CONFIRMED)
    auth.login(session.get(User, need.created_by_id))
    page = client.get(f"/work/needs/{need.id}").get_data(as_text=True)
    assert page.count("<li><time") == 5
    assert 'data-action="close"' in page


def test_caseworker_cannot_see_other_district(client, auth, session):
    need = need_in_state(NeedState.SUBMITTED)
    outsider = UserFactory(caseworker=True, area_code="440104")
    auth.login(outsider)
    assert client.get(f"/work/needs/{need.id}").status_code == 403
    assert client.get(f"/work/households/{need.household_id}").status_code == 403
    assert client.post(f"/work/needs/{need.id}/cancel", data={"note": "x"}).status_code == 404


def test_verifier_approves_cost_exception_over_http(client, auth, session):
    from tests.factories import RepairFactory

    need = need_in_state(NeedState.SUBMITTED, RepairFactory, estimated_cost_yuan=150_000)
    verifier = UserFactory(verifier=True)
    auth.login(verifier)
    assert client.post(f"/work/needs/{need.id}/approve").status_code == 403
    assert client.post(f"/review/{need.id}/cost-exception", data={"note": ""}).status_code == 422
    assert (
        client.post(f"/review/{need.id}/cost-exception", data={"note": "危房一事一议"}).status_code
        == 302
    )
    assert (
        client.post(f"/work/needs/{need.id}/approve", data={"privacy_checked": "1"}).status_code
        == 302
    )
    assert session.get(Need, need.id).state is NeedState.PUBLISHED
