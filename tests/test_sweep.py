"""The sweep: overdue claims come back, lights turn, people are told by email."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.accounts.models import User
from app.claims import services
from app.claims.models import Claim, ClaimStatus
from app.models_base import local_today, utcnow
from app.needs.models import Light, Need, NeedState
from app.supervision.lights import Facts, compute_light
from app.supervision.sweep import sweep
from tests.factories import FarmHelpFactory, MicroWishFactory, UserFactory, need_in_state


def test_overdue_claim_is_released_notified_and_red(session, smtp):
    need = need_in_state(NeedState.PUBLISHED)
    caseworker = session.get(User, need.created_by_id)
    donor = UserFactory(locale="en")
    claim = services.claim_need(session, need, donor)
    session.commit()
    smtp.messages.clear()  # the "claimed" email to the caseworker

    later = utcnow() + timedelta(days=8)  # the micro-wish limit is 7 days
    report = sweep(session, now=later)
    session.commit()

    assert report.claims_lapsed == 1
    need = session.get(Need, need.id)
    claim = session.get(Claim, claim.id)
    assert claim.status is ClaimStatus.EXPIRED
    assert need.state is NeedState.PUBLISHED and need.claimant_id is None
    assert need.light is Light.RED and need.light_reason == "claim_lapsed"
    assert need.events[-1].action == "lapse" and need.events[-1].actor_id is None
    recipients = sorted(r for m in smtp.messages for r in m.rcpt_tos)
    assert recipients == sorted([donor.email, caseworker.email])
    household = need.household
    for message in smtp.messages:
        for secret in (household.name, household.phone, household.address, household.id_number):
            assert secret not in message.raw.decode("utf-8", "replace")

    # Running it again changes nothing and tells nobody anything new.
    smtp.messages.clear()
    again = sweep(session, now=later)
    session.commit()
    assert again.claims_lapsed == 0 and again.turned_red == 0
    assert smtp.messages == []


def test_delivered_claim_waits_for_the_caseworker(session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    claim = services.claim_need(session, need, donor)
    services.mark_delivered(session, claim, donor, "已送达")
    sweep(session, now=utcnow() + timedelta(days=9))
    assert session.get(Claim, claim.id).status is ClaimStatus.DELIVERED


def test_sweep_expires_needs_past_their_deadline(session, no_mail):
    need = need_in_state(NeedState.PUBLISHED, deadline=local_today() + timedelta(days=1))
    session.execute(
        Need.__table__.update()
        .where(Need.id == need.id)
        .values(deadline=local_today() - timedelta(days=1))
    )
    report = sweep(session)
    assert report.needs_expired == 1
    assert session.get(Need, need.id).state is NeedState.EXPIRED


def test_light_rules(app, session):
    config = app.config
    now = utcnow()
    need = need_in_state(NeedState.PUBLISHED, FarmHelpFactory)
    fresh = Facts(live_claim=None, follow_up_overdue=False)
    assert compute_light(need, fresh, now, config) == (Light.GREEN, "moving")
    need.published_at = now - timedelta(days=config["YELLOW_UNCLAIMED_DAYS_FARM_HELP"] + 1)
    assert compute_light(need, fresh, now, config) == (Light.YELLOW, "unclaimed_long")
    need.updated_at = now - timedelta(days=config["RED_IDLE_DAYS_FARM_HELP"] + 1)
    assert compute_light(need, fresh, now, config) == (Light.RED, "idle_red")
    wish = need_in_state(NeedState.CONFIRMED, MicroWishFactory)
    assert compute_light(wish, Facts(None, True), now, config) == (
        Light.YELLOW,
        "follow_up_overdue",
    )
    closed = need_in_state(NeedState.CLOSED)
    assert compute_light(closed, fresh, now, config) == (Light.NONE, "")


def test_claim_overdue_is_red_before_the_sweep_releases_it(app, session):
    need = need_in_state(NeedState.PUBLISHED)
    claim = services.claim_need(session, need, UserFactory())
    later = claim.due_at + timedelta(minutes=1)
    assert compute_light(need, Facts(claim, False), later, app.config) == (
        Light.RED,
        "claim_overdue",
    )


def test_caseworker_dashboard_lists_red_first(client, auth, session, no_mail):
    quiet = need_in_state(NeedState.PUBLISHED)
    worker = session.get(User, quiet.created_by_id)
    red = need_in_state(
        NeedState.PUBLISHED, household=quiet.household, created_by_id=worker.id, title="红灯需求"
    )
    claim = services.claim_need(session, red, UserFactory())
    sweep(session, now=claim.due_at + timedelta(hours=1))
    auth.login(worker)
    page = client.get("/work/").get_data(as_text=True)
    assert page.index("红灯需求") < page.index(quiet.title)
    assert 'class="light-row light-red"' in page


def test_supervisor_sees_counts_and_red_list(client, auth, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED, title="被遗忘的需求")
    claim = services.claim_need(session, need, UserFactory())
    sweep(session, now=claim.due_at + timedelta(hours=1))
    auth.login(UserFactory(verifier=True, area_code="440100"))
    page = client.get("/review/lights").get_data(as_text=True)
    assert 'data-district="440106"' in page
    red_list = page.split('id="red-list"')[1]
    assert "被遗忘的需求" in red_list


def test_sweep_command(app, session, no_mail):
    need_in_state(NeedState.PUBLISHED)
    result = app.test_cli_runner().invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert "claims lapsed" in result.output
    assert session.scalars(select(Need)).first() is not None
