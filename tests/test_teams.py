"""Volunteer teams with members: invitation links and QR codes (expiring, revocable), joining,
removing members, handing over leadership; and how donors appear on leaderboards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.accounts import teams
from app.accounts.models import BoardName, MemberRole, Role, TeamInvite
from app.errors import Conflict, NotAllowed
from app.models_base import utcnow
from app.points import boards
from app.points.models import EntryKind, PointsEntry
from tests.factories import OrganisationFactory, UserFactory, member_of


@pytest.fixture
def team(session):
    return OrganisationFactory(verified=True, team=True)


def test_leader_invites_and_a_donor_joins_through_the_link(client, auth, session, team):
    leader = member_of(team)
    auth.login(leader)
    assert client.post("/organisation/invites", data={"days": "7"}).status_code == 302
    page = client.get("/organisation").get_data(as_text=True)
    invite = session.query(TeamInvite).one()
    assert f"/join/{invite.token}" in page and "qr.svg" in page
    qr = client.get(f"/organisation/invites/{invite.id}/qr.svg")
    assert qr.mimetype == "image/svg+xml"
    auth.logout()
    # Anyone can open the link; joining needs an account.
    assert team.name in client.get(f"/join/{invite.token}").get_data(as_text=True)
    response = client.post(f"/join/{invite.token}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    donor = UserFactory()
    auth.login(donor)
    assert client.post(f"/join/{invite.token}").status_code == 302
    donor = session.get(type(donor), donor.id)
    assert donor.role is Role.TEAM and donor.organisation.id == team.id
    # Joining twice is refused on the page, not with a bare error page.
    again = client.post(f"/join/{invite.token}")
    assert again.status_code == 409 and 'id="join"' in again.get_data(as_text=True)


def test_expired_and_revoked_links_are_refused(client, session, team):
    leader = member_of(team)
    invite = teams.create_invite(session, team, leader, days=1)
    session.execute(
        update(TeamInvite)
        .where(TeamInvite.id == invite.id)
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    fresh = teams.create_invite(session, team, leader, days=7)
    teams.revoke_invite(session, fresh, leader)
    with pytest.raises(Conflict):
        teams.join(session, fresh.token, UserFactory())
    with pytest.raises(Conflict):
        teams.join(session, invite.token, UserFactory())
    expired_token, revoked_token = invite.token, fresh.token
    assert client.get(f"/join/{expired_token}").status_code == 409
    assert client.get(f"/join/{revoked_token}").status_code == 409
    assert client.get("/join/not-a-token").status_code == 404


def test_only_the_leader_manages_and_staff_cannot_join(session, team):
    leader = member_of(team)
    member = member_of(team, MemberRole.MEMBER)
    with pytest.raises(NotAllowed):
        teams.create_invite(session, team, member)
    invite = teams.create_invite(session, team, leader)
    with pytest.raises(NotAllowed):
        teams.join(session, invite.token, UserFactory(caseworker=True))


def test_leader_removes_members_and_hands_over(client, auth, session, team):
    leader = member_of(team)
    first = member_of(team, MemberRole.MEMBER)
    second = member_of(team, MemberRole.MEMBER)
    auth.login(leader)
    second_membership = second.memberships[0].id
    assert client.post(f"/organisation/members/{second_membership}/remove").status_code == 302
    session.expire_all()
    assert session.get(type(second), second.id).memberships == []
    first_membership = first.memberships[0].id
    assert client.post(f"/organisation/members/{first_membership}/lead").status_code == 302
    session.expire_all()
    first, leader = session.get(type(first), first.id), session.get(type(leader), leader.id)
    assert first.is_org_admin(team) and not leader.is_org_admin(team)
    # The former leader can no longer manage the team.
    assert client.post("/organisation/invites", data={"days": "7"}).status_code == 403


def test_donors_choose_how_they_appear_on_leaderboards(client, auth, session):
    named, nick, hidden = UserFactory(), UserFactory(), UserFactory()
    for i, user in enumerate((named, nick, hidden)):
        session.add(
            PointsEntry(
                owner_user_id=user.id,
                amount=100 + i,
                kind=EntryKind.EARN,
                rule="test",
                reason="test",
                source_kind="test",
                source_id=i,
                dedupe_key=f"board-test-{user.id}",
            )
        )
    session.flush()
    assert nick.board_name == BoardName.NICKNAME.value  # the default
    auth.login(named)
    assert client.post("/me/leaderboard-name", data={"board_name": "name"}).status_code == 302
    session.expire_all()
    assert session.get(type(named), named.id).board_name == "name"
    auth.logout()
    auth.login(hidden)
    assert client.post("/me/leaderboard-name", data={"board_name": "hidden"}).status_code == 302
    assert client.post("/me/leaderboard-name", data={"board_name": "x"}).status_code == 422
    session.expire_all()
    names = [s.name for s in boards.leaderboard(session, boards.Board.PEOPLE)]
    assert named.display_name in names
    assert nick.display_name not in names and f"{nick.display_name[0]}**" in names
    assert len(names) == 2


def test_changing_the_district_moves_the_matching_base(session, team):
    from app.matching import services as matching
    from app.places import gazetteer

    leader = member_of(team)
    here = gazetteer.get(team.district_code)
    team.base_lat, team.base_lng = here.lat, here.lng
    other = next(d for d in gazetteer.districts() if d.code != team.district_code)
    # The form sends the saved point back with the new district.
    matching.update_matching_profile(
        session,
        team,
        leader,
        matching.MatchingProfile(
            district_code=other.code, base_lat=here.lat, base_lng=here.lng, radius_km=30
        ),
    )
    assert (team.base_lat, team.base_lng) == (other.lat, other.lng)
    assert team.district_code == other.code
    # New coordinates typed with it win.
    third = next(d for d in gazetteer.districts() if d.code not in (other.code, here.code))
    matching.update_matching_profile(
        session,
        team,
        leader,
        matching.MatchingProfile(
            district_code=third.code, base_lat=23.2, base_lng=113.3, radius_km=30
        ),
    )
    assert (team.base_lat, team.base_lng) == (23.2, 113.3)
