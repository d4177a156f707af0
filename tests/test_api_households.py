"""The caseworker's and the agent's API: role- and area-checked, staff-only shapes."""

from __future__ import annotations

import random

import pytest

from app.accounts.services import issue_token
from app.models_base import utcnow
from app.seed import fake_resident_id
from tests.factories import (
    TIANHE,
    YUEXIU,
    AreaFactory,
    HouseholdFactory,
    UserFactory,
    agent_in,
)


def _auth(user):
    return {"Authorization": f"Bearer {issue_token(user)}"}


@pytest.fixture
def caseworker(session):
    return UserFactory(caseworker=True)


@pytest.fixture
def household(session, caseworker):
    return HouseholdFactory(created_by_id=caseworker.id)


def test_caseworker_lists_creates_reads_and_patches(client, session, caseworker, household):
    HouseholdFactory(district_code=YUEXIU)  # another area: never listed
    headers = _auth(caseworker)
    listed = client.get("/api/v1/households", headers=headers)
    assert listed.status_code == 200
    assert [h["id"] for h in listed.json["items"]] == [household.id]
    created = client.post(
        "/api/v1/households",
        headers=headers,
        json={
            "name": "冯阿婆",
            "id_number": fake_resident_id(random.Random(5), TIANHE),
            "phone": "13800004444",
            "address": "天河区测试村5号",
            "district_code": TIANHE,
            "group": "elderly",
        },
    )
    assert created.status_code == 201, created.json
    new_id = created.json["id"]
    assert created.json["score"]["reasons"]
    patched = client.patch(
        f"/api/v1/households/{new_id}",
        headers=headers,
        json={"assistance": "tekun", "care_kinds": ["medical"], "lives_alone": True},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["assistance"] == "tekun" and patched.json["care_kinds"] == ["medical"]
    assert patched.json["lives_alone"] is True
    bad = client.patch(
        f"/api/v1/households/{new_id}", headers=headers, json={"consent_scope": "story"}
    )
    assert bad.status_code == 422 and "consent_on" in bad.json["errors"]
    one = client.get(f"/api/v1/households/{household.id}", headers=headers)
    assert one.status_code == 200 and one.json["name"] == household.name
    assert one.json["members"] == [] and "value" in one.json["score"]


def test_visits_through_the_api(client, session, caseworker, household):
    headers = _auth(caseworker)
    when = utcnow().isoformat()
    logged = client.post(
        f"/api/v1/households/{household.id}/visits",
        headers=headers,
        json={"visited_at": when, "method": "phone", "findings": ["all_well"], "note": "挺好"},
    )
    assert logged.status_code == 201, logged.json
    assert logged.json["method"] == "phone" and logged.json["findings"] == ["all_well"]
    future = client.post(
        f"/api/v1/households/{household.id}/visits",
        headers=headers,
        json={"visited_at": "2099-01-01T10:00:00+08:00", "method": "home"},
    )
    assert future.status_code == 422 and "visited_at" in future.json["errors"]
    naive = client.post(
        f"/api/v1/households/{household.id}/visits",
        headers=headers,
        json={"visited_at": "2026-01-01T10:00:00", "method": "home"},
    )
    assert naive.status_code == 422
    history = client.get(f"/api/v1/households/{household.id}/visits", headers=headers)
    assert [v["id"] for v in history.json["items"]] == [logged.json["id"]]
    assert client.get("/api/v1/visits/due", headers=headers).status_code == 200


def test_others_are_refused(client, session, household):
    outsider = UserFactory(caseworker=True, area_code=YUEXIU)
    for user, status in ((UserFactory(), 403), (outsider, 403), (UserFactory(agent=True), 403)):
        headers = _auth(user)
        assert (
            client.get(f"/api/v1/households/{household.id}", headers=headers).status_code == status
        )
        assert (
            client.get(f"/api/v1/households/{household.id}/visits", headers=headers).status_code
            == status
        )
        assert (
            client.patch(
                f"/api/v1/households/{household.id}", headers=headers, json={"has_car": True}
            ).status_code
            == status
        )
    assert client.get("/api/v1/households", headers=_auth(UserFactory())).status_code == 403
    assert (
        client.get("/api/v1/visits/due", headers=_auth(UserFactory(agent=True))).status_code == 403
    )
    assert client.get("/api/v1/households").status_code == 401
    assert (
        client.get(
            "/api/v1/households/2147483647", headers=_auth(UserFactory(caseworker=True))
        ).status_code
        == 404
    )


def test_agent_applications_through_the_api(client, session, caseworker):
    village = AreaFactory(village=True)
    agent, other = agent_in(village), agent_in(village)
    body = {
        "applicant_name": "罗阿婆",
        "id_number": fake_resident_id(random.Random(11), TIANHE),
        "phone": "13900001234",
        "address": "天河区车陂村九巷3号",
        "group": "elderly",
        "kind": "repair",
        "category": "housing",
        "need_text": "独居老人，床边需要安装扶手，起夜时容易摔倒。",
    }
    sent = client.post("/api/v1/applications", headers=_auth(agent), json=body)
    assert sent.status_code == 201, sent.json
    assert sent.json["status"] == "submitted"
    refused = client.post("/api/v1/applications", headers=_auth(caseworker), json=body)
    assert refused.status_code == 403
    mine = client.get("/api/v1/applications", headers=_auth(agent)).json["items"]
    assert [a["id"] for a in mine] == [sent.json["id"]]
    assert client.get("/api/v1/applications", headers=_auth(other)).json["items"] == []
    queue = client.get("/api/v1/applications", headers=_auth(caseworker)).json["items"]
    assert [a["id"] for a in queue] == [sent.json["id"]]
    assert client.get("/api/v1/applications", headers=_auth(UserFactory())).status_code == 403


def test_ids_beyond_the_column_are_not_found_whatever_the_method(client, session, caseworker):
    """Two methods share these paths: an id past the INTEGER column is 404 for both (not the
    405 werkzeug gives when the converter refuses only after matching)."""
    headers = _auth(caseworker)
    for method, path in [
        ("get", "/api/v1/households/2147483648"),
        ("patch", "/api/v1/households/2147483648"),
        ("get", "/api/v1/households/2147483648/visits"),
        ("post", "/api/v1/households/2147483648/visits"),
        ("post", "/api/v1/households/99999999999999999999/visits"),
    ]:
        response = getattr(client, method)(path, headers=headers, json={})
        assert response.status_code == 404, (method, path, response.status_code)
    assert client.get("/api/v1/households/2147483647", headers=headers).status_code == 404
