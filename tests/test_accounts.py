"""Registration, sign-in, rate limiting, CSRF, organisations and staff accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.models import Organisation, OrgStatus, Role, User
from app.errors import NotAllowed, ValidationFailed
from tests.conftest import TEST_PASSWORD
from tests.factories import OrganisationFactory, UserFactory, member_of


def _users(session) -> int:
    return session.scalar(select(func.count(User.id)))


def test_register_donor_and_sign_in(client, session):
    response = client.post(
        "/register",
        data={
            "role": "donor",
            "display_name": "小明",
            "email": "Ming@Test.example",
            "password": "good-pass-123",
            "password_again": "good-pass-123",
        },
    )
    assert response.status_code == 302
    user = session.scalar(select(User).where(User.email == "ming@test.example"))
    assert user.role is Role.DONOR
    assert user.password_hash.startswith("$argon2id$")
    client.post("/logout")
    assert (
        client.post(
            "/login", data={"email": "ming@test.example", "password": "good-pass-123"}
        ).status_code
        == 302
    )


def test_register_company_creates_pending_organisation(client, session):
    response = client.post(
        "/register",
        data={
            "role": "company",
            "display_name": "王经理",
            "email": "boss@test.example",
            "password": "good-pass-123",
            "password_again": "good-pass-123",
            "organisation_name": "福田爱心餐厅",
            "licence_number": "91440300MA5ABCDE1X",
            "district_code": "440304",
        },
    )
    assert response.status_code == 302
    org = session.scalar(select(Organisation))
    assert org.status is OrgStatus.PENDING and org.licence_number == "91440300MA5ABCDE1X"
    assert not org.can_claim()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "short1", "password_again": "short1"}, "password"),
        ({"password": "onlyletterslong", "password_again": "onlyletterslong"}, "password"),
        ({"password_again": "different-123"}, "password_again"),
        ({"email": "not-an-email"}, "email"),
        ({"role": "admin"}, "role"),
        ({"role": "company", "licence_number": "123"}, "licence_number"),
        ({"role": "company", "organisation_name": ""}, "organisation_name"),
        ({"role": "team", "district_code": "110101"}, "district_code"),
    ],
)
def test_register_refuses_bad_input_and_keeps_typed_values(client, session, changes, field):
    data = {
        "role": "donor",
        "display_name": "小红",
        "email": "hong@test.example",
        "password": "good-pass-123",
        "password_again": "good-pass-123",
        "organisation_name": "某志愿队",
        "licence_number": "91440300MA5ABCDE1X",
        "district_code": "440106",
        **changes,
    }
    before = _users(session)
    response = client.post("/register", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="field-{field}"' in page
    assert 'class="field has-error" id="field-' + field in page
    assert 'value="小红"' in page  # what was typed is still there
    assert _users(session) == before


def test_duplicate_email_refused(client, session):
    UserFactory(email="taken@test.example")
    response = client.post(
        "/register",
        data={
            "role": "donor",
            "display_name": "x",
            "email": "TAKEN@test.example",
            "password": "good-pass-123",
            "password_again": "good-pass-123",
        },
    )
    assert response.status_code == 422


def test_login_failure_is_generic(client, session):
    UserFactory(email="real@test.example")
    wrong = client.post("/login", data={"email": "real@test.example", "password": "nope-nope-1"})
    unknown = client.post("/login", data={"email": "ghost@test.example", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 400
    error = 'role="alert">'
    assert (
        wrong.get_data(as_text=True).split(error)[1].split("<")[0]
        == unknown.get_data(as_text=True).split(error)[1].split("<")[0]
    )


def test_disabled_account_cannot_sign_in(session):
    user = UserFactory(is_active_account=False)
    with pytest.raises(NotAllowed):
        services.authenticate(session, user.email, TEST_PASSWORD)


def test_login_rate_limited(client, app, session):
    UserFactory(email="slow@test.example")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [
            client.post(
                "/login", data={"email": "slow@test.example", "password": "bad-guess-1"}
            ).status_code
            for _ in range(5)
        ]
        token = client.post(
            "/api/v1/auth/token", json={"email": "slow@test.example", "password": "x"}
        )
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes[:3] == [400, 400, 400] and codes[3:] == [429, 429]
    assert token.status_code in (403, 429)


def test_forms_require_csrf(client, app, session):
    user = UserFactory()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
        logout = client.post("/logout")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert logout.status_code == 400


def test_session_cookie_is_http_only(client, session):
    user = UserFactory()
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_admin_verifies_organisation(client, auth, session):
    org = OrganisationFactory()
    leader = member_of(org)
    auth.login(UserFactory(admin=True))
    assert client.post(f"/admin/organisations/{org.id}/reject").status_code == 422
    assert client.post(f"/admin/organisations/{org.id}/verify").status_code == 302
    org = session.get(Organisation, org.id)
    assert org.status is OrgStatus.VERIFIED and org.verified_at is not None
    assert session.get(User, leader.id).organisation.can_claim()


def test_only_admin_decides(session):
    org = OrganisationFactory()
    with pytest.raises(NotAllowed):
        services.decide_organisation(session, org, UserFactory(verifier=True), True)


def test_admin_creates_staff(client, auth, session):
    auth.login(UserFactory(admin=True))
    response = client.post(
        "/admin/staff",
        data={
            "role": "caseworker",
            "display_name": "越秀社工",
            "email": "cw@test.example",
            "area_code": "440104",
            "password": "good-pass-123",
        },
    )
    assert response.status_code == 302
    staff = session.scalar(select(User).where(User.email == "cw@test.example"))
    assert staff.role is Role.CASEWORKER and staff.area_code == "440104"
    # A caseworker must be bound to a district, not a city.
    bad = client.post(
        "/admin/staff",
        data={
            "role": "caseworker",
            "display_name": "x",
            "email": "cw2@test.example",
            "area_code": "440100",
            "password": "good-pass-123",
        },
    )
    assert bad.status_code == 422


def test_leader_adds_team_member(client, auth, session):
    org = OrganisationFactory(verified=True, team=True)
    leader = member_of(org)
    recruit = UserFactory(team=True)
    auth.login(leader)
    response = client.post(
        "/organisation", data={"action": "add_member", "member-email": recruit.email}
    )
    assert response.status_code == 302
    assert session.get(User, recruit.id).organisation.id == org.id
    # A donor account cannot be added to a team.
    donor = UserFactory()
    with pytest.raises(ValidationFailed):
        services.add_member(session, org, session.get(User, leader.id), donor.email)


def test_password_change_revokes_tokens(session):
    user = UserFactory()
    token = services.issue_token(user)
    assert services.user_for_bearer(session, token) == user
    user.password_hash = services.hash_password("another-pass-9")
    assert services.user_for_bearer(session, token) is None


def test_skills_declared_then_verified_by_admin(client, auth, session):
    from app.accounts.models import OrganisationSkill

    org = OrganisationFactory(verified=True)
    boss = member_of(org)
    auth.login(boss)
    response = client.post(
        "/organisation", data={"action": "skills", "skills": ["electrician", "plumber"]}
    )
    assert response.status_code == 302
    skills = session.scalars(select(OrganisationSkill)).all()
    assert {s.skill for s in skills} == {"electrician", "plumber"}
    assert all(s.verified_at is None for s in skills)
    ids = {s.skill: s.id for s in skills}
    assert not session.get(Organisation, org.id).has_skills(["electrician"])
    bad = client.post("/organisation", data={"action": "skills", "skills": ["wizard"]})
    assert bad.status_code == 422
    assert client.post(f"/admin/skills/{ids['plumber']}/verify").status_code == 403
    auth.logout()
    auth.login(UserFactory(admin=True))
    assert client.post(f"/admin/skills/{ids['electrician']}/verify").status_code == 302
    session.expire_all()
    assert session.get(Organisation, org.id).has_skills(["electrician"])
    assert not session.get(Organisation, org.id).has_skills(["plumber"])


def test_login_next_must_stay_on_the_site(client, session):
    user = UserFactory()
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        response = client.post(
            f"/login?next={target}", data={"email": user.email, "password": TEST_PASSWORD}
        )
        assert response.headers["Location"] == "/me", target
        client.post("/logout")
