"""Reports: rollups and dashboard figures, the lists behind them, the public figures with
small cells suppressed, and the JSON endpoint."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.needs.models import NeedState
from app.reports import rollups, services
from app.reports.models import PublicMonth
from app.seed import advance
from tests.factories import HouseholdFactory, MicroWishFactory, UserFactory

TIANHE = "440106"
YUEXIU = "440104"
SHENZHEN_FUTIAN = "440304"


def confirmed_need(district: str = TIANHE, household=None):
    """A micro-wish taken through the real lifecycle to confirmed."""
    household = household or HouseholdFactory(district_code=district)
    need = MicroWishFactory(household=household)
    from app.extensions import db

    worker = db.session.get(User, need.created_by_id)
    return advance(
        db.session,
        need,
        NeedState.CONFIRMED,
        worker=worker,
        verifier=UserFactory(verifier=True, area_code=district),
        claimer=UserFactory(),
    )


def test_period_parsing():
    today = date(2026, 3, 15)
    assert services.parse_period("last12", today).first == "2025-04"
    assert services.parse_period("", today).last == "2026-03"
    assert services.parse_period("2026").months[-1] == "2026-12"
    december = services.parse_period("2025-12")
    assert (december.first, december.last) == ("2025-12", "2025-12")
    # Beijing midnight of 1 December is 16:00 UTC on 30 November.
    assert december.start_utc.isoformat() == "2025-11-30T16:00:00+00:00"
    assert december.end_utc.isoformat() == "2025-12-31T16:00:00+00:00"
    for bad in ("2026-13", "last", "1999", "12-2026"):
        with pytest.raises(services.ValidationFailed):
            services.parse_period(bad)


def test_percentile_reads_the_histogram():
    histogram = [(1, 5), (24, 4), (168, 1)]
    assert services.percentile_hours(histogram, 0.5) == 1
    assert services.percentile_hours(histogram, 0.9) == 24
    assert services.percentile_hours(histogram, 1.0) == 168
    assert services.percentile_hours([], 0.5) is None


def test_refresh_counts_collected_and_resolved_within_the_area(session):
    confirmed_need(TIANHE)
    confirmed_need(TIANHE)
    MicroWishFactory(household=HouseholdFactory(district_code=TIANHE))  # a draft
    confirmed_need(SHENZHEN_FUTIAN)
    rollups.refresh(session)
    period = services.parse_period("last12")
    tianhe = services.resolve_area(UserFactory(caseworker=True), None)
    data = services.summary(session, tianhe, period, "month")
    assert sum(r["collected"] for r in data["needs"]) == 3
    assert sum(r["resolved"] for r in data["needs"]) == 2
    assert data["households_recorded"] == 3
    assert data["durations"]["claim"]["count"] == 2
    assert data["durations"]["claim"]["median_hours"] == 1  # claimed within the hour
    province = services.resolve_area(UserFactory(admin=True), None)
    by_area = services.summary(session, province, period, "area")["needs"]
    assert {r["key"]: r["collected"] for r in by_area} == {"440100": 3, "440300": 1}
    by_kind = services.summary(session, province, period, "kind")["needs"]
    assert [r["key"] for r in by_kind] == ["micro_wish"]


def test_refresh_of_some_districts_keeps_the_others(session):
    confirmed_need(TIANHE)
    confirmed_need(SHENZHEN_FUTIAN)
    rollups.refresh(session)
    confirmed_need(SHENZHEN_FUTIAN)
    confirmed_need(TIANHE)
    rollups.refresh(session, {TIANHE})  # Futian is not refreshed: still one need there
    province = services.resolve_area(UserFactory(admin=True), None)
    rows = services.summary(session, province, services.parse_period(None), "area")["needs"]
    assert {r["key"]: r["collected"] for r in rows} == {"440100": 2, "440300": 1}


def test_staff_see_only_their_own_area(session):
    caseworker = UserFactory(caseworker=True)
    with pytest.raises(services.NotAllowed):
        services.resolve_area(caseworker, "440100")  # the whole city is wider than Tianhe
    with pytest.raises(services.NotAllowed):
        services.resolve_area(UserFactory(), None)  # a donor
    city = UserFactory(verifier=True, area_code="440100")
    assert services.resolve_area(city, TIANHE).code == TIANHE
    assert [c for c, _n in services.area_choices(caseworker)] == [TIANHE]


def test_public_figures_suppress_small_cells(session):
    for _ in range(4):
        confirmed_need(TIANHE)
    confirmed_need(SHENZHEN_FUTIAN)
    same = HouseholdFactory(district_code=SHENZHEN_FUTIAN)
    for _ in range(5):  # five needs, but only two households in Futian
        confirmed_need(SHENZHEN_FUTIAN, household=same)
    for _ in range(5):
        confirmed_need(YUEXIU)
    rollups.refresh(session)
    data = services.public_summary(session, services.parse_period(None))
    cities = {c["code"]: c for c in data["cities"]}
    guangzhou = [m for m in cities["440100"]["months"] if m["fulfilled"]]
    assert guangzhou and guangzhou[0]["households"] == 9  # 4 + 5 households: shown
    shenzhen = cities["440300"]
    assert shenzhen["total"]["suppressed"] and shenzhen["total"]["fulfilled"] is None
    assert all(m.get("suppressed") or m["fulfilled"] == 0 for m in shenzhen["months"])
    districts = {d["code"]: d for d in data["districts"]}
    assert districts[TIANHE]["fulfilled"] is None  # four households
    assert districts[YUEXIU]["fulfilled"] == 5
    rows = session.scalars(select(PublicMonth).where(PublicMonth.area_code == "440300")).all()
    assert {(r.level, r.households, r.fulfilled) for r in rows} == {("city", 2, 6)}


def test_summary_api_needs_staff(client, auth, session):
    confirmed_need(TIANHE)
    rollups.refresh(session)
    assert client.get("/api/v1/reports/summary").status_code == 401
    donor = UserFactory()
    auth.login(donor)
    assert client.get("/api/v1/reports/summary").status_code == 403
    auth.logout()
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    response = client.get("/api/v1/reports/summary?group_by=kind&period=last12")
    assert response.status_code == 200
    body = response.json
    assert body["area"]["code"] == TIANHE and body["needs"][0]["collected"] == 1
    assert client.get("/api/v1/reports/summary?area=440100").status_code == 403
    bad = client.get("/api/v1/reports/summary?group_by=colour&period=soon")
    assert bad.status_code == 422 and "group_by" in bad.json["errors"]


def test_summary_api_with_a_bearer_token(client, session):
    from app.accounts.services import issue_token

    verifier = UserFactory(verifier=True, area_code="440000")
    token = issue_token(verifier)
    response = client.get(
        "/api/v1/reports/summary?area=440100", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.json["area"]["level"] == "city"


def test_public_api_and_page_are_open(client, session):
    for _ in range(5):
        confirmed_need(YUEXIU)
    rollups.refresh(session)
    body = client.get("/api/v1/reports/public").json
    assert body["small_cell"] == 5
    page = client.get("/transparency")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="public-cities"' in text and "<script>" not in text


def test_dashboard_links_every_figure_to_its_list(client, auth, session):
    need = confirmed_need(TIANHE)
    other = confirmed_need(SHENZHEN_FUTIAN)
    rollups.refresh(session)
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    page = client.get("/reports/?group_by=kind")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "/reports/needs?" in text and 'data-chart="needs"' in text
    listing = client.get("/reports/needs?measure=resolved&kind=micro_wish").get_data(as_text=True)
    assert need.title in listing and other.title not in listing
    assert client.get("/reports/needs?sub_area=440300").status_code == 403
    assert client.get("/reports/needs?month=2026-99").status_code == 422


def test_refresh_button_updates_the_figures(client, auth, session):
    caseworker = UserFactory(caseworker=True)
    auth.login(caseworker)
    confirmed_need(TIANHE)
    before = client.get("/reports/").get_data(as_text=True)
    assert (
        'id="fig-collected"><a href="/reports/needs?area=440106&amp;period=last12&amp;measure=collected">0<'
        in before
    )
    response = client.post("/reports/refresh", data={"area": TIANHE})
    assert response.status_code == 302
    after = client.get("/reports/").get_data(as_text=True)
    assert 'measure=collected">1<' in after


def test_monthly_report_page_and_pdf(client, auth, session):
    confirmed_need(TIANHE)
    rollups.refresh(session)
    auth.login(UserFactory(verifier=True, area_code="440100"))
    page = client.get("/reports/monthly")
    assert page.status_code == 200 and 'id="monthly-needs"' in page.get_data(as_text=True)
    pdf = client.get("/reports/monthly.pdf?area=440106")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.mimetype == "application/pdf"


def test_refresh_command_rebuilds_the_figures(app, session):
    confirmed_need(TIANHE)
    result = app.test_cli_runner().invoke(args=["reports", "refresh"])
    assert result.exit_code == 0 and "rebuilt" in result.output
    assert rollups.last_refresh(session) is not None
    refused = app.test_cli_runner().invoke(args=["reports", "refresh", "--enqueue"])
    assert refused.exit_code != 0 and "REDIS_URL" in refused.output
