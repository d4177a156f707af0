"""Small breaks a new user hit: the printable impact page, thousands separators, the funding
bar where no money can be given, and the plaque's QR code pointing at SITE_URL."""

from __future__ import annotations

from app.models_base import utcnow
from app.needs.models import NeedState
from tests.factories import OrganisationFactory, RepairFactory, member_of, need_in_state


def test_printable_impact_page_works_and_opens_print_from_a_static_file(client, auth, session):
    company = member_of(OrganisationFactory(verified=True))
    auth.login(company)
    page = client.get("/organisation/impact?period=all")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    printable = client.get("/organisation/impact?period=all&print=1")
    assert printable.status_code == 200
    text = printable.get_data(as_text=True)
    assert "js/autoprint.js" in text and "<script>" not in text
    assert "js/autoprint.js" not in html
    assert "print=1&amp;print" not in text


def test_numbers_have_thousands_separators(client, session):
    need = need_in_state(NeedState.PUBLISHED, RepairFactory, estimated_cost_yuan=75_000)
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "¥75,000" in html


def test_no_funding_bar_when_cash_is_off(client, session):
    need = need_in_state(NeedState.PUBLISHED)
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert 'id="funding"' not in html and "<progress" not in html
    assert 'id="cash-unavailable"' in html


def test_no_funding_bar_on_a_closed_need(client, session, stripe_enabled, no_mail):
    need = need_in_state(NeedState.CLOSED)
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert 'id="funding"' not in html and "<progress" not in html
    open_need = need_in_state(NeedState.PUBLISHED)
    assert 'id="funding"' in client.get(f"/needs/{open_need.id}").get_data(as_text=True)


def test_plaque_links_to_site_url(app, client, session, monkeypatch):
    org = OrganisationFactory(verified=True, verified_at=utcnow())
    monkeypatch.setitem(app.config, "SITE_URL", "https://shanlian.example.cn")
    html = client.get(f"/companies/{org.id}", base_url="http://internal:8000").get_data(
        as_text=True
    )
    assert f"https://shanlian.example.cn/companies/{org.id}" in html
    assert "internal:8000/companies" not in html


def test_pool_donation_notice_names_the_item_not_an_empty_title(session, no_mail):
    from sqlalchemy import select

    from app.donations import services as donations
    from app.notifications.models import Notification
    from tests.factories import UserFactory

    company = member_of(OrganisationFactory(verified=True))
    logged = donations.log_donation(
        session,
        company,
        donations.DonationData(item="棉被", quantity=5, value_yuan=600, district_code="440106"),
    )
    donations.receive_donation(session, logged.donation, UserFactory(caseworker=True))
    notice = session.scalar(select(Notification).where(Notification.user_id == company.id))
    assert notice is not None
    assert '""' not in notice.subject and "“”" not in notice.subject
    assert "棉被" in notice.subject and "棉被" in notice.body


def test_map_settings_reach_the_page(app, client, session, monkeypatch):
    need_in_state(NeedState.PUBLISHED)
    monkeypatch.setitem(app.config, "MAP_TILE_COORDS", "gcj02")
    monkeypatch.setitem(app.config, "MAP_TILE_SUBDOMAINS", "1234")
    html = client.get("/needs").get_data(as_text=True)
    if 'id="needs-map"' not in html:  # Leaflet not installed in this checkout
        return
    assert 'data-coords="gcj02"' in html and 'data-subdomains="1234"' in html
    assert 'id="map-tiles-failed"' in html
