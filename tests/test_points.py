"""Points follow confirmed help, exactly once; the shop never oversells."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import MemberRole, User
from app.claims import services as claims
from app.donations import services as donations
from app.errors import Conflict, InvalidTransition
from app.models_base import local_today, utcnow
from app.needs import fulfilment
from app.needs.models import NeedEvent, NeedState, Urgency
from app.points import boards
from app.points import services as points
from app.points.models import EntryKind, PointsEntry, Reward
from app.shifts import services as shift_services
from tests.factories import (
    FarmHelpFactory,
    OrganisationFactory,
    UserFactory,
    member_of,
    need_in_state,
)

Owner = points.Owner


def confirmed_wish(session, value=300, urgency=Urgency.NORMAL):
    need = need_in_state(NeedState.PUBLISHED, estimated_value_yuan=value, urgency=urgency)
    donor = UserFactory()
    worker = session.get(User, need.created_by_id)
    claim = claims.claim_need(session, need, donor)
    claims.mark_delivered(session, claim, donor, "")
    claims.confirm_delivery(session, claim, worker, follow_up_days=0)
    return need, donor, worker


def test_confirmation_awards_value_points_once(session, no_mail):
    need, donor, worker = confirmed_wish(session, value=300)
    assert points.balance(session, Owner(user_id=donor.id)) == 30  # 1 point per 10 yuan
    # Confirming again is refused, and replaying the award writes nothing.
    claim = claims.live_claim(session, need) or session.scalar(select(claims.Claim))
    with pytest.raises((InvalidTransition, Conflict)):
        claims.confirm_delivery(session, claim, worker)
    event = session.scalar(
        select(NeedEvent).where(NeedEvent.need_id == need.id, NeedEvent.action == "confirm")
    )
    assert points.award_for_confirmation(session, need, event) == 0
    assert points.balance(session, Owner(user_id=donor.id)) == 30


def test_urgent_and_red_bonuses(session, no_mail, app):
    need, donor, _ = confirmed_wish(session, value=100, urgency=Urgency.CRITICAL)
    rules = {e.rule for e in points.entries(session, Owner(user_id=donor.id))}
    assert rules == {"help_value", "urgent_bonus"}
    assert (
        points.balance(session, Owner(user_id=donor.id)) == 10 + app.config["POINTS_BONUS_URGENT"]
    )


def test_red_bonus_after_a_lapsed_claim(session, no_mail, app):
    from app.supervision.sweep import sweep

    need = need_in_state(NeedState.PUBLISHED, estimated_value_yuan=100)
    first = claims.claim_need(session, need, UserFactory())
    sweep(session, now=first.due_at + timedelta(minutes=1))
    donor = UserFactory()
    claim = claims.claim_need(session, need, donor)
    claims.mark_delivered(session, claim, donor, "")
    claims.confirm_delivery(session, claim, session.get(User, need.created_by_id), 0)
    assert {e.rule for e in points.entries(session, Owner(user_id=donor.id))} == {
        "help_value",
        "red_bonus",
    }


def test_withdrawn_confirmation_reverses_exactly(session, no_mail):
    need, donor, worker = confirmed_wish(session, value=500, urgency=Urgency.HIGH)
    owner = Owner(user_id=donor.id)
    earned = points.balance(session, owner)
    assert earned > 0
    fulfilment.withdraw_confirmation(session, need, worker, "确认错了，老人还没收到")
    assert points.balance(session, owner) == 0
    assert need.state is NeedState.DELIVERED
    # Reversing again does nothing; confirming again awards again, once.
    assert points.reverse_confirmation(session, need) == 0
    claim = session.scalar(select(claims.Claim).where(claims.Claim.need_id == need.id))
    claims.confirm_delivery(session, claim, worker, follow_up_days=0)
    assert points.balance(session, owner) == earned
    fulfilment.withdraw_confirmation(session, need, worker, "再次撤回")
    assert points.balance(session, owner) == 0
    reversals = session.scalar(
        select(func.count(PointsEntry.id)).where(PointsEntry.reverses_id.is_not(None))
    )
    assert reversals == 4  # two awards, twice


def test_team_hours_credit_member_and_team(session, no_mail):
    today = local_today()
    need = need_in_state(NeedState.PUBLISHED, FarmHelpFactory, window_start=today, window_end=today)
    worker = session.get(User, need.created_by_id)
    shift = shift_services.add_shift(
        session,
        need,
        worker,
        shift_services.ShiftData(day=today, start_time=time(8), end_time=time(11), places=3),
    )
    org = OrganisationFactory(verified=True, team=True)
    leader = member_of(org)
    member = member_of(org, MemberRole.MEMBER)
    shift_services.sign_up(session, shift, leader, [member.id, leader.id])
    shift_services.check_in(session, shift, member, shift.checkin_code)
    shift_services.check_out(
        session, shift, member, shift.checkin_code, now=utcnow() + timedelta(hours=2)
    )
    shift_services.farm_work_done(session, need, worker)
    shift_services.confirm_farm_work(session, need, worker, follow_up_days=0)
    assert points.balance(session, Owner(user_id=member.id)) == 20  # two hours at 10
    assert points.balance(session, Owner(org_id=org.id)) == 20
    assert points.balance(session, Owner(user_id=leader.id)) == 0  # never checked in


def test_no_points_for_own_needs(session, no_mail):
    need, _donor, worker = confirmed_wish(session)
    event = session.scalar(select(NeedEvent).where(NeedEvent.action == "confirm"))
    claim = session.scalar(select(claims.Claim))
    claim.claimant_id = worker.id  # as if the caseworker had claimed their own need
    session.execute(PointsEntry.__table__.delete())
    assert points.award_for_confirmation(session, need, event) == 0


def test_received_donation_earns_company_points_once(session, no_mail):
    company = member_of(OrganisationFactory(verified=True))
    logged = donations.log_donation(
        session,
        company,
        donations.DonationData(item="大米", quantity=10, value_yuan=800, district_code="440106"),
    )
    owner = Owner(org_id=company.organisation.id)
    assert points.balance(session, owner) == 0  # logged is not confirmed
    worker = UserFactory(caseworker=True)
    donations.receive_donation(session, logged.donation, worker)
    assert points.balance(session, owner) == 80
    with pytest.raises(Conflict):
        donations.receive_donation(session, logged.donation, worker)
    assert points.award_for_donation(session, logged.donation) == 0
    assert points.balance(session, owner) == 80


def _rich(session, amount):
    user = UserFactory()
    session.add(
        PointsEntry(
            owner_user_id=user.id,
            amount=amount,
            kind=EntryKind.EARN,
            rule="test",
            reason="test",
            source_kind="test",
            source_id=user.id,
            dedupe_key=f"test:{user.id}",
        )
    )
    session.flush()
    return user


def test_redeem_and_cancel(session):
    user = _rich(session, 250)
    reward = Reward(name_zh="大米", name_en="Rice", price_points=100, stock=2)
    session.add(reward)
    session.flush()
    first = points.redeem(session, reward, user)
    assert reward.stock == 1 and len(first.code) == 10
    points.redeem(session, reward, user)
    assert reward.stock == 0
    assert points.balance(session, Owner(user_id=user.id)) == 50
    with pytest.raises(Conflict):
        points.redeem(session, reward, user)  # out of stock (and short of points)
    points.cancel_redemption(session, first, user)
    with pytest.raises(Conflict):
        points.cancel_redemption(session, first, user)
    session.refresh(reward)
    assert reward.stock == 1
    assert points.balance(session, Owner(user_id=user.id)) == 150
    with pytest.raises(Exception):  # noqa: B017 - any refusal: someone else's redemption
        points.cancel_redemption(session, first, UserFactory())


def test_short_balance_refused_and_nothing_changes(session):
    user = _rich(session, 50)
    reward = Reward(name_zh="油", name_en="Oil", price_points=100, stock=3)
    session.add(reward)
    session.flush()
    with pytest.raises(Conflict):
        points.redeem(session, reward, user)
    session.refresh(reward)
    assert reward.stock == 3 and points.balance(session, Owner(user_id=user.id)) == 50


def test_company_admin_spends_company_points(session, no_mail):
    company = member_of(OrganisationFactory(verified=True))
    org_id = company.organisation.id
    session.add(
        PointsEntry(
            owner_org_id=org_id,
            amount=100,
            kind=EntryKind.EARN,
            rule="t",
            reason="t",
            source_kind="t",
            source_id=1,
            dedupe_key="t:org",
        )
    )
    reward = Reward(name_zh="菜", name_en="Veg", price_points=60, stock=1)
    session.add(reward)
    session.flush()
    redemption = points.redeem(session, reward, company)
    assert redemption.owner_org_id == org_id
    assert points.balance(session, Owner(org_id=org_id)) == 40


def test_leaderboards_by_period_and_area(session):
    org_a = OrganisationFactory(verified=True, name="甲公司")
    org_b = OrganisationFactory(verified=True, name="乙公司", district_code="440304")
    team = OrganisationFactory(verified=True, team=True, name="丙队")
    last_year = utcnow() - timedelta(days=400)
    rows = [
        (org_a.id, 100, "440106", utcnow()),
        (org_b.id, 300, "440304", last_year),
        (org_b.id, 50, "440304", utcnow()),
        (team.id, 70, "440106", utcnow()),
    ]
    for i, (org_id, amount, district, when) in enumerate(rows):
        session.add(
            PointsEntry(
                owner_org_id=org_id,
                amount=amount,
                kind=EntryKind.EARN,
                rule="t",
                reason="t",
                source_kind="t",
                source_id=i,
                district_code=district,
                dedupe_key=f"lb:{i}",
                created_at=when,
            )
        )
    # Spending does not lower a rank.
    session.add(
        PointsEntry(
            owner_org_id=org_b.id,
            amount=-300,
            kind=EntryKind.SPEND,
            rule="t",
            reason="t",
            source_kind="t",
            source_id=9,
            dedupe_key="lb:spend",
        )
    )
    session.flush()
    all_time = boards.leaderboard(session, boards.Board.COMPANIES, "all")
    assert [(s.name, s.points) for s in all_time] == [("乙公司", 350), ("甲公司", 100)]
    this_year = boards.leaderboard(session, boards.Board.COMPANIES, "year")
    assert [(s.name, s.points, s.rank) for s in this_year] == [
        ("甲公司", 100, 1),
        ("乙公司", 50, 2),
    ]
    shenzhen = boards.leaderboard(session, boards.Board.COMPANIES, "all", "440300")
    assert [s.name for s in shenzhen] == ["乙公司"]
    assert [s.name for s in boards.leaderboard(session, boards.Board.TEAMS)] == ["丙队"]
    assert boards.company_rank(session, org_a) == (100, 2)


def test_leaderboard_constant_queries(client, session, count_queries):
    def add(n, offset):
        for i in range(n):
            org = OrganisationFactory(verified=True)
            session.add(
                PointsEntry(
                    owner_org_id=org.id,
                    amount=10 + i,
                    kind=EntryKind.EARN,
                    rule="t",
                    reason="t",
                    source_kind="t",
                    source_id=offset + i,
                    dedupe_key=f"q:{offset + i}",
                    district_code="440106",
                )
            )
        session.flush()

    add(2, 0)
    with count_queries() as few:
        assert client.get("/leaderboards?board=companies").status_code == 200
    add(40, 100)
    with count_queries() as many:
        response = client.get("/api/v1/leaderboards?board=companies&limit=100")
    assert response.status_code == 200 and len(response.json["items"]) == 42
    assert many.count == few.count <= 2


def test_expiry_by_ledger_entries(session, app):
    user = UserFactory()
    old = utcnow() - timedelta(days=500)
    session.add_all(
        [
            PointsEntry(
                owner_user_id=user.id,
                amount=100,
                kind=EntryKind.EARN,
                rule="t",
                reason="t",
                source_kind="t",
                source_id=1,
                dedupe_key="x:1",
                created_at=old,
            ),
            PointsEntry(
                owner_user_id=user.id,
                amount=-30,
                kind=EntryKind.SPEND,
                rule="t",
                reason="t",
                source_kind="t",
                source_id=2,
                dedupe_key="x:2",
            ),
            PointsEntry(
                owner_user_id=user.id,
                amount=40,
                kind=EntryKind.EARN,
                rule="t",
                reason="t",
                source_kind="t",
                source_id=3,
                dedupe_key="x:3",
            ),
        ]
    )
    session.flush()
    owner = Owner(user_id=user.id)
    assert points.expire_points(session, date(2026, 12, 31)) == 0  # expiry off by default
    app.config["POINTS_EXPIRE_MONTHS"] = 12
    try:
        assert points.expire_points(session, local_today()) == 1
        assert points.expire_points(session, local_today()) == 0  # once per run date
    finally:
        app.config["POINTS_EXPIRE_MONTHS"] = 0
    assert points.balance(session, owner) == 40  # the 70 unspent old points lapsed


def test_points_api(client, session, no_mail):
    from app.accounts.services import issue_token

    _need, donor, _worker = confirmed_wish(session, value=200)
    headers = {"Authorization": f"Bearer {issue_token(donor)}"}
    body = client.get("/api/v1/me/points", headers=headers).json
    assert body["balance"] == 20 and body["entries"][0]["rule"] == "help_value"
    reward = Reward(name_zh="菜", name_en="Veg", price_points=15, stock=1)
    session.add(reward)
    session.flush()
    listed = client.get("/api/v1/rewards").json["items"]
    assert [r["id"] for r in listed] == [reward.id]
    made = client.post(f"/api/v1/rewards/{reward.id}/redemptions", headers=headers)
    assert made.status_code == 201 and made.json["points"] == 15
    again = client.post(f"/api/v1/rewards/{reward.id}/redemptions", headers=headers)
    assert again.status_code == 409 and again.json["message"]
    assert client.get("/api/v1/me/points", headers=headers).json["balance"] == 5
    board = client.get("/api/v1/leaderboards?board=people&period=month").json
    assert board["items"][0]["owner_id"] == donor.id
    assert client.get("/api/v1/leaderboards?board=bosses").status_code == 422


def test_impact_report_and_csv(client, auth, session, no_mail):
    company = member_of(OrganisationFactory(verified=True))
    need = need_in_state(NeedState.PUBLISHED, estimated_value_yuan=400)
    worker = session.get(User, need.created_by_id)
    claim = claims.claim_need(session, need, company)
    claims.mark_delivered(session, claim, company, "")
    claims.confirm_delivery(session, claim, worker, 0)
    logged = donations.log_donation(
        session,
        company,
        donations.DonationData(item="棉被", quantity=5, value_yuan=600, need_id=need.id),
    )
    donations.receive_donation(session, logged.donation, worker)
    report = boards.impact_report(session, company.organisation, None, None)
    assert (report.households, report.needs, report.value_yuan) == (1, 1, 1000)
    household_name = need.household.name
    org_id = company.organisation.id
    auth.login(company)
    page = client.get("/organisation/impact?period=all").get_data(as_text=True)
    assert 'id="impact-value">1,000<' in page
    csv_response = client.get("/organisation/impact.csv?period=all")
    assert csv_response.mimetype == "text/csv"
    text = csv_response.get_data(as_text=True)
    assert "value_yuan,1000" in text and "棉被" in text
    assert household_name not in text
    assert client.get("/organisation/impact?from=2026-13-01").status_code == 422
    plaque = client.get(f"/companies/{org_id}").get_data(as_text=True)
    assert 'id="plaque-points">100<' in plaque
    qr = client.get(f"/companies/{org_id}/qr.svg")
    assert qr.mimetype == "image/svg+xml" and b"<svg" in qr.data


def test_unverified_company_has_no_plaque(client, session):
    org = OrganisationFactory()
    assert client.get(f"/companies/{org.id}").status_code == 404
