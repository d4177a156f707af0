"""/api/v1: filters, pagination, tokens, API keys, JSON errors."""

from __future__ import annotations

import re

import pytest

from app.accounts.models import OrgKind
from app.accounts.services import create_api_key
from app.needs.models import NeedState
from tests.conftest import TEST_PASSWORD
from tests.factories import (
    YUEXIU,
    FarmHelpFactory,
    HouseholdFactory,
    MicroWishFactory,
    OrganisationFactory,
    RepairFactory,
    UserFactory,
    member_of,
    need_in_state,
)


def test_list_only_public_needs_with_filters(client, session):
    published = need_in_state(NeedState.PUBLISHED)
    repair = need_in_state(NeedState.PUBLISHED, RepairFactory)
    need_in_state(NeedState.SUBMITTED)
    need_in_state(NeedState.DRAFT)
    need_in_state(NeedState.REJECTED)
    yuexiu = need_in_state(
        NeedState.CLAIMED, FarmHelpFactory, household=HouseholdFactory(district_code=YUEXIU)
    )
    body = client.get("/api/v1/needs").json
    ids = {item["id"] for item in body["items"]}
    assert ids == {published.id, repair.id, yuexiu.id}
    assert body["total"] == 3 and body["page"] == 1
    assert {i["id"] for i in client.get("/api/v1/needs?kind=repair").json["items"]} == {repair.id}
    assert {i["id"] for i in client.get(f"/api/v1/needs?district={YUEXIU}").json["items"]} == {
        yuexiu.id
    }
    assert {i["id"] for i in client.get("/api/v1/needs?city=440100").json["items"]} == ids
    assert client.get("/api/v1/needs?city=440300").json["total"] == 0
    assert {i["id"] for i in client.get("/api/v1/needs?status=claimed").json["items"]} == {
        yuexiu.id
    }


def test_pagination(client, session):
    for _ in range(5):
        need_in_state(NeedState.PUBLISHED)
    first = client.get("/api/v1/needs?per_page=2&page=1").json
    third = client.get("/api/v1/needs?per_page=2&page=3").json
    assert first["total"] == 5 and len(first["items"]) == 2 and len(third["items"]) == 1
    beyond = client.get("/api/v1/needs?per_page=2&page=9").json
    assert beyond["items"] == [] and beyond["total"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "kind=house",
        "status=draft",
        "per_page=0",
        "per_page=101",
        "page=-1",
        "district=abc",
        "page=x",
    ],
)
def test_bad_filters_get_json_422(client, query):
    response = client.get(f"/api/v1/needs?{query}")
    assert response.status_code == 422
    assert response.is_json
    assert response.json["message"] and response.json["errors"]


def test_need_detail_and_kind_fields(client, session):
    need = need_in_state(NeedState.PUBLISHED, FarmHelpFactory)
    body = client.get(f"/api/v1/needs/{need.id}").json
    assert body["kind"] == "farm_help"
    assert body["details"]["volunteers_needed"] == 10
    assert body["location"]["approximate"] is True
    assert body["district"]["code"] == "440106"
    assert "household" not in body and "household_id" not in body


def test_non_public_need_is_404_json(client, session):
    draft = need_in_state(NeedState.SUBMITTED)
    for url in (f"/api/v1/needs/{draft.id}", "/api/v1/needs/999999", "/api/v1/nothing"):
        response = client.get(url)
        assert response.status_code == 404 and response.is_json


def test_token_flow(client, session):
    user = UserFactory()
    response = client.post(
        "/api/v1/auth/token", json={"email": user.email.upper(), "password": TEST_PASSWORD}
    )
    assert response.status_code == 201
    token = response.json["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["email"] == user.email
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@test.example", "password": "wrong-password-1"},
        {"email": "nobody"},
        {"password": "x"},
        [],
        "text",
    ],
)
def test_token_errors_are_json(client, session, body):
    UserFactory(email="x@test.example")
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code in (400, 403, 422)
    assert response.is_json and response.json["message"]


def test_method_not_allowed_is_json(client):
    response = client.delete("/api/v1/needs")
    assert response.status_code == 405 and response.is_json


def test_company_api_key(client, session):
    company = member_of(OrganisationFactory(verified=True))
    key = create_api_key(session, company.organisation, company, "ERP")
    assert key.startswith("slk_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json["organisation"]["kind"] == OrgKind.COMPANY.value


def test_api_key_pages_create_and_revoke(client, auth, session):
    from app.accounts.models import ApiKey

    company = member_of(OrganisationFactory(verified=True))
    auth.login(company)
    page = client.post("/organisation", data={"action": "create_key", "key-name": "仓库系统"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    key = text.split('id="new-key">')[1].split("<")[0]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    stored = session.query(ApiKey).one()
    assert stored.key_hash != key and key not in stored.key_hash  # only a hash is kept
    client.post(f"/organisation/keys/{stored.id}/revoke")
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_team_and_member_cannot_create_keys(session):
    from app.accounts.models import MemberRole
    from app.errors import NotAllowed

    team_leader = member_of(OrganisationFactory(verified=True, team=True))
    with pytest.raises(NotAllowed):
        create_api_key(session, team_leader.organisation, team_leader, "x")
    org = OrganisationFactory(verified=True)
    member = member_of(org, MemberRole.MEMBER)
    with pytest.raises(NotAllowed):
        create_api_key(session, org, member, "x")


def test_openapi_lists_the_routes(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert {"/needs", "/needs/{need_id}", "/auth/token", "/me"} <= set(doc["paths"])
    need = doc["components"]["schemas"]["Need"]["properties"]
    assert "household" not in need and "story" in need


def test_every_api_route_is_declared_and_documented(app, client):
    """A new /api/v1 view needs its ``@operation`` (app/api/openapi.py); the document then
    lists it, with the bearer token when the view is behind ``token_required``."""
    from app.api.openapi import is_declared

    doc = client.get("/api/v1/openapi.json").json
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi":
            continue
        assert is_declared(app.view_functions[rule.endpoint]), rule.rule
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (method, path)
    claim = doc["paths"]["/claims/{claim_id}/withdraw"]["post"]
    assert claim["security"] == [{"bearer": []}]
    assert {"200", "400", "401", "409", "422"} <= set(claim["responses"])
    assert claim["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    assert "security" not in doc["paths"]["/needs"]["get"]


def test_declared_body_is_loaded_before_the_view(client, session):
    """The schema named in ``@operation(body=...)`` is the one that checks the request."""
    not_json = client.post("/api/v1/auth/token", data="x", content_type="text/plain")
    assert not_json.status_code == 400
    invalid = client.post("/api/v1/auth/token", json={"email": "not-an-email"})
    assert invalid.status_code == 422
    assert {"email", "password"} <= set(invalid.json["errors"])


def test_micro_wish_listing_shows_published_first(client, session):
    closed = need_in_state(NeedState.CLOSED, MicroWishFactory)
    open_ = need_in_state(NeedState.PUBLISHED, MicroWishFactory)
    ids = [i["id"] for i in client.get("/api/v1/needs").json["items"]]
    assert ids.index(open_.id) < ids.index(closed.id)
