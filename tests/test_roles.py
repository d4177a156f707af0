"""Every page and API route, for every role: allowed roles succeed, others get 403 or are
sent to sign in."""

from __future__ import annotations

import pytest

from app.accounts.models import OrgKind
from app.needs.models import NeedState
from tests.factories import (
    AreaFactory,
    HouseholdFactory,
    MicroWishFactory,
    OrganisationFactory,
    UserFactory,
    agent_in,
    member_of,
    need_in_state,
)

ROLES = ["anonymous", "donor", "company", "team", "caseworker", "verifier", "admin", "agent"]
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}


@pytest.fixture
def world(session):
    caseworker = UserFactory(caseworker=True)
    household = HouseholdFactory(created_by_id=caseworker.id)
    draft = MicroWishFactory(household=household, created_by_id=caseworker.id)
    public = need_in_state(NeedState.PUBLISHED)
    people = {
        "donor": UserFactory(),
        "company": member_of(OrganisationFactory(verified=True)),
        "team": member_of(OrganisationFactory(verified=True, team=True)),
        "caseworker": caseworker,
        "verifier": UserFactory(verifier=True),
        "admin": UserFactory(admin=True),
        "agent": agent_in(AreaFactory(village=True)),
    }
    assert people["team"].organisation.kind is OrgKind.TEAM
    from app.households import services as households
    from app.intake import services as intake
    from app.models_base import utcnow
    from tests.test_intake import _data

    visit = households.log_visit(
        session,
        household,
        caseworker,
        households.VisitData(visited_at=utcnow(), method=households.VisitMethod.HOME),
    )
    application = intake.submit_application(session, people["agent"], _data())
    return {
        "people": people,
        "household": household,
        "draft": draft,
        "public": public,
        "visit": visit,
        "application": application,
    }


# Pages that send an anonymous visitor to sign in.
SIGN_IN_FIRST = (
    "/work",
    "/admin",
    "/review",
    "/me",
    "/organisation",
    "/claims",
    "/donations",
    "/points",
    "/notifications",
    "/agent",
    "/reports",
    "/provider",
    "/bookings",
)
STAFF = {"caseworker", "verifier", "admin"}

ROUTES = [
    ("/", EVERYONE),
    ("/needs", EVERYONE),
    ("/needs?kind=micro_wish&city=440100&status=published", EVERYONE),
    ("/needs/{public}", EVERYONE),
    ("/needs/{draft}", {"caseworker", "verifier"}),
    ("/healthz", EVERYONE),
    ("/login", EVERYONE),
    ("/register", EVERYONE),
    ("/me", SIGNED_IN),
    ("/organisation", {"company", "team"}),
    ("/admin/organisations", {"admin"}),
    ("/admin/staff", {"admin"}),
    ("/work/", {"caseworker"}),
    ("/work/households", {"caseworker", "verifier"}),
    ("/work/households/new", {"caseworker"}),
    ("/work/households/{household}", {"caseworker", "verifier"}),
    ("/work/households/{household}/edit", {"caseworker"}),
    ("/work/households/{household}/needs/new", {"caseworker"}),
    ("/work/needs/{draft}", {"caseworker", "verifier"}),
    ("/work/needs/{draft}/edit", {"caseworker"}),
    ("/review/", {"verifier"}),
    ("/claims/mine", {"donor", "company", "team"}),
    ("/donations", {"company"}),
    ("/work/donations", {"caseworker"}),
    ("/review/lights", {"caseworker", "verifier"}),
    ("/review/inspections", {"verifier"}),
    ("/points", SIGNED_IN),
    ("/rewards", EVERYONE),
    ("/leaderboards?board=teams&period=year", EVERYONE),
    ("/companies/{company}", EVERYONE),
    ("/admin/rewards", {"admin"}),
    ("/organisation/impact", {"company", "team"}),
    ("/organisation/impact.csv", {"company", "team"}),
    ("/me/giving", SIGNED_IN),
    ("/notifications", SIGNED_IN),
    ("/api/v1/needs", EVERYONE),
    ("/api/v1/rewards", EVERYONE),
    ("/api/v1/leaderboards", EVERYONE),
    ("/api/v1/needs/{public}", EVERYONE),
    ("/api/v1/openapi.json", EVERYONE),
    ("/work/visits", {"caseworker", "verifier"}),
    ("/work/households/{household}/visit", {"caseworker"}),
    ("/work/households/{household}/profile", {"caseworker"}),
    ("/work/households/{household}/members", {"caseworker"}),
    ("/work/households/{household}/events", {"caseworker"}),
    ("/work/households/{household}/score", {"caseworker"}),
    ("/work/visits/{visit}/need", {"caseworker"}),
    ("/work/intake", {"caseworker", "verifier"}),
    ("/work/intake/{application}", {"caseworker", "verifier"}),
    ("/agent/", {"agent"}),
    ("/agent/applications/new", {"agent"}),
    ("/agent/applications/{application}", {"agent"}),
    ("/admin/areas", {"admin"}),
    ("/admin/visit-rules", {"admin"}),
    ("/admin/cities", {"admin"}),
    ("/admin/agents", {"admin"}),
    ("/review/points-settlement", {"verifier"}),
    ("/transparency", EVERYONE),
    ("/api/v1/reports/public", EVERYONE),
    ("/reports/", STAFF),
    ("/reports/needs?measure=resolved", STAFF),
    ("/reports/monthly", STAFF),
    ("/reports/monthly.pdf", STAFF),
    ("/reports/exports", STAFF),
    ("/reports/exports/needs.csv", STAFF),
    ("/reports/exports/households.xlsx", {"caseworker", "verifier"}),
    ("/reports/exports/log", {"verifier", "admin"}),
    ("/reports/imports", {"caseworker", "company"}),
    ("/reports/imports/households/template.xlsx", {"caseworker"}),
    ("/reports/imports/donations/template.xlsx", {"company"}),
    ("/reports/impact.pdf", {"company", "team"}),
    ("/offers", EVERYONE),
    ("/offers/join", EVERYONE),
    ("/organisation/offers", {"company", "team"}),
    ("/organisation/offers/new", {"company", "team"}),
    ("/provider/check", {"company", "team"}),
    ("/bookings/mine", {"caseworker"}),
    ("/work/recipients", {"caseworker"}),
    ("/work/pool", {"caseworker"}),
    ("/admin/permits", {"admin"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("template", "allowed"), ROUTES, ids=[r[0] for r in ROUTES])
def test_page_access(client, auth, world, role, template, allowed):
    url = template.format(
        public=world["public"].id,
        draft=world["draft"].id,
        household=world["household"].id,
        company=world["people"]["company"].organisation.id,
        visit=world["visit"].id,
        application=world["application"].id,
    )
    if role != "anonymous":
        auth.login(world["people"][role])
    response = client.get(url)
    if role in allowed:
        assert response.status_code in (200, 302), (url, role, response.status_code)
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"]
    elif role == "anonymous" and template.startswith(SIGN_IN_FIRST):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    elif template == "/needs/{draft}":
        assert response.status_code == 404  # a draft does not exist for the public
    else:
        assert response.status_code == 403, (url, role, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_api_me_needs_a_token(client, world, role):
    from app.accounts.services import issue_token

    headers = {}
    if role != "anonymous":
        headers["Authorization"] = f"Bearer {issue_token(world['people'][role])}"
    response = client.get("/api/v1/me", headers=headers)
    if role == "anonymous":
        assert response.status_code == 401
        assert response.is_json
    else:
        assert response.status_code == 200
        assert response.json["role"] == world["people"][role].role.value


ACTIONS = [
    # (need state, url, roles allowed); {need} and {claim} are filled in
    (NeedState.DRAFT, "/work/needs/{need}/submit", {"caseworker"}),
    (NeedState.SUBMITTED, "/work/needs/{need}/approve", {"verifier"}),
    (NeedState.SUBMITTED, "/work/needs/{need}/reject", {"verifier"}),
    (NeedState.PUBLISHED, "/needs/{need}/claim", {"donor", "company"}),
    (NeedState.DELIVERED, "/claims/{claim}/confirm", {"caseworker"}),
    (NeedState.PUBLISHED, "/work/needs/{need}/cancel", {"caseworker"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("state", "url", "allowed"),
    ACTIONS,
    ids=[f"{a[0].value}-{a[1].rsplit('/', 1)[1]}" for a in ACTIONS],
)
def test_lifecycle_actions_by_role(client, auth, world, session, role, state, url, allowed):
    from app.claims.services import claim_need, mark_delivered

    caseworker = world["people"]["caseworker"]
    target = NeedState.PUBLISHED if state is NeedState.DELIVERED else state
    need = need_in_state(target, household=world["household"], created_by_id=caseworker.id)
    claim = None
    if state is NeedState.DELIVERED:
        donor = UserFactory()
        claim = claim_need(session, need, donor)
        mark_delivered(session, claim, donor, "送到了")
    if role != "anonymous":
        auth.login(world["people"][role])
    response = client.post(
        url.format(need=need.id, claim=claim.id if claim else 0),
        data={"note": "原因", "method": "handover", "privacy_checked": "1"},
    )
    after = session.get(type(need), need.id).state
    if role in allowed:
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert after is not state
    else:
        assert response.status_code in (302, 403, 404)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]
        assert after is state
