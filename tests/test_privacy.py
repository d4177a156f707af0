"""A household's name, ID number, phone and exact address reach no public page, no API
response and no log line."""

from __future__ import annotations

import contextlib
import logging

import pytest
from sqlalchemy import select

from app.accounts.services import issue_token
from app.needs.models import NeedState
from tests.factories import HouseholdFactory, UserFactory

CANARY = {
    "name": "金丝雀甲乙",
    "id_number": "44010619491231002X",
    "phone": "13912345678",
    "address": "天河区金丝雀村88号",
}


@pytest.fixture
def canary_need(session):
    """A published need created the way a caseworker creates one (the service computes the
    public location), for a household full of recognisable values."""
    from app.accounts.models import User
    from app.needs import services
    from app.needs.models import CareCategory, NeedKind, Urgency
    from app.seed import advance

    household = HouseholdFactory(**CANARY, lat=23.14567, lng=113.36789)
    caseworker = session.get(User, household.created_by_id)
    data = services.NeedData(
        kind=NeedKind.MICRO_WISH,
        title="给独居老人的电饭煲",
        story="老人的电饭煲坏了，希望有一个新的。",
        category=CareCategory.LIVING,
        urgency=Urgency.HIGH,
        item="电饭煲",
        quantity=1,
        estimated_value_yuan=260,
    )
    need = services.create_need(session, caseworker, household, data)
    return advance(
        session, need, NeedState.PUBLISHED, worker=caseworker, verifier=UserFactory(verifier=True)
    )


def _assert_clean(text: str) -> None:
    for field, value in CANARY.items():
        assert value not in text, f"household {field} leaked"
    # The exact coordinates must not appear either (only the grid-cell centre).
    assert "23.14567" not in text and "113.36789" not in text


def test_canary_reaches_no_public_surface(client, auth, canary_need, caplog):
    caplog.set_level(logging.DEBUG)
    donor = UserFactory()
    urls = [
        "/",
        "/needs",
        f"/needs/{canary_need.id}",
        "/needs?city=440100",
        "/api/v1/needs",
        f"/api/v1/needs/{canary_need.id}",
        "/api/v1/needs?district=440106",
        "/api/v1/openapi.json",
        "/leaderboards",
        "/rewards",
        "/api/v1/leaderboards",
        "/api/v1/rewards",
        "/healthz",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.get_data(as_text=True))
    for url in urls[:3]:
        response = client.get(url, headers={"Cookie": "lang=en"})
        _assert_clean(response.get_data(as_text=True))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issue_token(donor)}"})
    _assert_clean(me.get_data(as_text=True))
    # Signed in as a donor, the public detail page still shows nothing private.
    auth.login(donor)
    _assert_clean(client.get(f"/needs/{canary_need.id}").get_data(as_text=True))
    _assert_clean(caplog.text)


def test_canary_absent_from_logs_when_things_fail(client, auth, canary_need, caplog, session):
    """Errors that carry the household's data (a database error on insert) log no values."""
    caplog.set_level(logging.DEBUG)
    from app.accounts.models import User

    caseworker = session.get(User, canary_need.created_by_id)
    auth.login(caseworker)
    # A second household with the same data but an over-long phone: refused, nothing logged.
    response = client.post(
        "/work/households/new",
        data={
            **CANARY,
            "phone": "1" * 30,
            "district_code": "440106",
            "group": "elderly",
            "need_score": 1,
        },
    )
    assert response.status_code == 422
    _assert_clean(caplog.text)


def test_caseworker_sees_the_household(client, auth, canary_need, session):
    from app.accounts.models import User

    caseworker = session.get(User, canary_need.created_by_id)
    auth.login(caseworker)
    page = client.get(f"/work/households/{canary_need.household_id}").get_data(as_text=True)
    assert CANARY["name"] in page and CANARY["phone"] in page


def test_public_location_is_the_grid_cell_centre(canary_need, session):
    # 0.05 degree cells: the need sits at the centre of the cell holding the household.
    assert (canary_need.approx_lat, canary_need.approx_lng) == (23.125, 113.375)
    # Deterministic: another need of a neighbour in the same cell lands on the same point.
    from app.needs.services import approximate_location

    neighbour = HouseholdFactory(lat=23.1012, lng=113.3999)
    assert approximate_location(neighbour) == (23.125, 113.375)
    unknown = HouseholdFactory(lat=None, lng=None, district_code="440104")
    from app.places import gazetteer

    yuexiu = gazetteer.get("440104")
    assert approximate_location(unknown) == (yuexiu.lat, yuexiu.lng)


def test_story_naming_the_household_is_refused(session):
    from app.errors import ValidationFailed
    from app.needs import services
    from app.needs.models import CareCategory, NeedKind, Urgency

    household = HouseholdFactory(**CANARY)
    caseworker = session.get(UserFactory._meta.model, household.created_by_id)
    data = services.NeedData(
        kind=NeedKind.MICRO_WISH,
        title="电饭煲",
        story=f"请联系{CANARY['phone']}送货上门",
        category=CareCategory.LIVING,
        urgency=Urgency.NORMAL,
        item="电饭煲",
        quantity=1,
        estimated_value_yuan=200,
    )
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_need(session, caseworker, household, data)
    assert "story" in excinfo.value.errors


def test_canary_absent_from_claimer_pages_notifications_and_reports(
    client, auth, canary_need, session, no_mail
):
    """A donor who claimed (hand-over) and a company reading its impact report see nothing
    of the household; neither do notifications."""
    from app.claims import services as claims
    from app.notifications.models import Notification, OutboxEmail
    from tests.factories import OrganisationFactory, member_of

    company = member_of(OrganisationFactory(verified=True))
    claim = claims.claim_need(session, canary_need, company)
    claims.mark_delivered(session, claim, company, "已送到服务站")
    from app.accounts.models import User

    worker = session.get(User, canary_need.created_by_id)
    claims.confirm_delivery(session, claim, worker, follow_up_days=0)
    notices = session.scalars(select(Notification)).all()
    emails = session.scalars(select(OutboxEmail)).all()
    assert notices and emails
    _assert_clean(" ".join(n.subject + n.body for n in notices))
    _assert_clean(" ".join(e.subject + e.body for e in emails))
    auth.login(company)
    for url in [
        "/claims/mine",
        f"/claims/{claim.id}",
        "/points",
        "/notifications",
        "/organisation/impact?period=all",
        "/organisation/impact.csv?period=all",
        f"/companies/{company.organisation.id}",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.get_data(as_text=True))


MEMBER_CANARY = "金丝雀孙女"
VISIT_CANARY = "金丝雀探访记录"
APPLICANT_CANARY = {"name": "金丝雀申请人", "id_number": "440106195001010015"}
SCORE_CANARY = "金丝雀评分理由"


@pytest.fixture
def canary_records(session, canary_need, caplog):
    """Members, a visit, an application, an overridden score and a household light change
    for the canary household, written the way the services write them."""
    caplog.set_level(logging.DEBUG)
    from app.accounts.models import User
    from app.households import services as households
    from app.households.models import Relation, VisitMethod
    from app.intake import services as intake
    from app.models_base import utcnow
    from app.needs.models import CareCategory, Household, NeedKind, PersonGroup
    from tests.factories import AreaFactory, agent_in

    household = session.get(Household, canary_need.household_id)
    caseworker = session.get(User, household.created_by_id)
    households.add_member(
        session,
        household,
        caseworker,
        households.MemberData(name=MEMBER_CANARY, relation=Relation.GRANDCHILD, birth_year=2014),
    )
    households.log_visit(
        session,
        household,
        caseworker,
        households.VisitData(
            visited_at=utcnow(), method=VisitMethod.HOME, note=VISIT_CANARY, need_found=True
        ),
    )
    households.override_score(session, household, caseworker, 2, SCORE_CANARY)
    agent = agent_in(AreaFactory(village=True))
    application = intake.submit_application(
        session,
        agent,
        intake.ApplicationData(
            applicant_name=APPLICANT_CANARY["name"],
            id_number=APPLICANT_CANARY["id_number"],
            phone=CANARY["phone"],
            address=CANARY["address"],
            group=PersonGroup.ELDERLY,
            kind=NeedKind.MICRO_WISH,
            category=CareCategory.LIVING,
            need_text="需要一台电饭煲，旧的坏了。",
        ),
    )
    households.set_visit_rules(
        session, UserFactory(admin=True), {"group:elderly": 1, "group:ill_or_disabled": 1}
    )
    household.created_at = utcnow().replace(year=2025)
    households.turn_household_lights(session, utcnow().replace(year=2027))
    return {"household": household, "agent": agent, "application": application}


def _assert_records_clean(text: str) -> None:
    _assert_clean(text)
    for value in (MEMBER_CANARY, VISIT_CANARY, SCORE_CANARY, *APPLICANT_CANARY.values()):
        assert value not in text, f"{value} leaked"


def test_members_visits_applications_and_score_stay_private(
    client, auth, canary_need, canary_records, session, caplog
):
    from app.notifications.models import Notification, OutboxEmail

    household = canary_records["household"]
    assert household.light.value == "red"
    notices = session.scalars(select(Notification)).all()
    assert any(n.kind == "household_light" for n in notices)
    _assert_records_clean(" ".join(n.subject + n.body for n in notices))
    _assert_records_clean(
        " ".join(e.subject + e.body for e in session.scalars(select(OutboxEmail)))
    )
    public = [
        "/",
        "/needs",
        f"/needs/{canary_need.id}",
        "/api/v1/needs",
        f"/api/v1/needs/{canary_need.id}",
        "/api/v1/openapi.json",
        "/leaderboards",
    ]
    for url in public:
        _assert_records_clean(client.get(url).get_data(as_text=True))
    # The need score is never in a public page or a non-staff JSON response.
    detail = client.get(f"/api/v1/needs/{canary_need.id}").get_json()
    assert "need_score" not in str(detail) and "score" not in detail
    # A donor, and another agent, see nothing of the household or the application.
    for person in (UserFactory(), canary_records["agent"], UserFactory(agent=True)):
        auth.login(person)
        for url in ["/points", "/notifications", "/agent/", f"/needs/{canary_need.id}"]:
            response = client.get(url)
            if person is canary_records["agent"] and url == "/agent/":
                continue  # the agent who entered the application sees it: their own
            _assert_records_clean(response.get_data(as_text=True))
        assert client.get(f"/work/households/{household.id}").status_code in (403, 302)
        auth.logout()
    # The caseworker's own pages show it all.
    from app.accounts.models import User

    auth.login(session.get(User, household.created_by_id))
    page = client.get(f"/work/households/{household.id}").get_data(as_text=True)
    assert MEMBER_CANARY in page and VISIT_CANARY in page and SCORE_CANARY in page
    queue = client.get("/work/intake").get_data(as_text=True)
    assert APPLICANT_CANARY["name"] in queue
    _assert_records_clean(caplog.text)


def test_a_story_naming_a_member_is_refused(session):
    from app.errors import ValidationFailed
    from app.households import services as households
    from app.households.models import Relation
    from app.needs import services
    from app.needs.models import CareCategory, NeedKind, Urgency

    household = HouseholdFactory(**CANARY)
    caseworker = session.get(UserFactory._meta.model, household.created_by_id)
    assert household.members == []  # loaded before the member is added
    households.add_member(
        session,
        household,
        caseworker,
        households.MemberData(name=MEMBER_CANARY, relation=Relation.GRANDCHILD, birth_year=2014),
    )
    data = services.NeedData(
        kind=NeedKind.MICRO_WISH,
        title="书包",
        story=f"{MEMBER_CANARY}开学需要一个新书包和文具。",
        category=CareCategory.EDUCATION,
        urgency=Urgency.NORMAL,
        item="书包",
        quantity=1,
        estimated_value_yuan=120,
    )
    with pytest.raises(ValidationFailed) as excinfo:
        services.create_need(session, caseworker, household, data)
    assert "story" in excinfo.value.errors


def _pdf_text(data: bytes) -> str:
    """The text a PDF draws, from its (compressed) content streams: CID fonts write two
    bytes per character, so it is decoded both as UTF-16 and as Latin-1."""
    import base64
    import re
    import zlib

    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = stream = stream.strip()
        if stream.endswith(b"~>"):  # reportlab: ASCII85, then Flate
            raw = base64.a85decode(stream[:-2].replace(b"\n", b""))
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)", raw):
            unescaped = re.sub(rb"\\([0-7]{1,3})", lambda m: bytes([int(m.group(1), 8)]), literal)
            unescaped = re.sub(rb"\\(.)", rb"\1", unescaped)
            chunks.append(unescaped.decode("utf-16-be", "replace"))
            chunks.append(unescaped.decode("latin-1"))
    return " ".join(chunks)


def _file_text(response) -> str:
    """What a report or export says, whatever its format."""
    import io

    if response.mimetype == "application/pdf":
        return _pdf_text(response.data)
    if "spreadsheetml" in response.mimetype:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(response.data))
        return " ".join(
            str(v) for sheet in workbook for row in sheet.iter_rows(values_only=True) for v in row
        )
    return response.get_data(as_text=True)


def test_canary_absent_from_every_export_and_report_outside_its_district(
    client, auth, canary_need, session, no_mail
):
    """Dashboards, the lists behind them, the JSON figures, the public page, the monthly
    report and its PDF, every ledger in both formats and the company's impact PDF: only the
    household's own district staff ever see its personal data."""
    from app.accounts.models import User
    from app.claims import services as claims
    from app.reports import exports, rollups
    from tests.factories import OrganisationFactory, member_of

    company = member_of(OrganisationFactory(verified=True))
    claim = claims.claim_need(session, canary_need, company)
    claims.mark_delivered(session, claim, company, "已送到服务站")
    worker = session.get(User, canary_need.created_by_id)
    claims.confirm_delivery(session, claim, worker, follow_up_days=0)
    rollups.refresh(session)

    report_urls = [
        f"/reports/?group_by={g}" for g in ("month", "area", "kind", "category", "group")
    ] + [
        "/reports/needs?measure=resolved",
        "/reports/needs?measure=collected&group=elderly",
        "/api/v1/reports/summary?group_by=group",
        "/reports/monthly",
        "/reports/monthly.pdf",
        "/reports/exports",
    ]
    ledger_urls = [
        f"/reports/exports/{name}.{fmt}" for name in exports.LEDGERS for fmt in ("xlsx", "csv")
    ]
    for url in ["/transparency", "/api/v1/reports/public"]:
        _assert_clean(_file_text(client.get(url)))

    # The province's supervisor: every report and ledger, no personal column anywhere.
    auth.login(UserFactory(verifier=True, area_code="440000"))
    for url in report_urls + ledger_urls + ["/reports/exports/log"]:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(_file_text(response))
    auth.logout()

    # A caseworker of another district cannot reach Tianhe's ledgers at all.
    auth.login(UserFactory(caseworker=True, area_code="440104"))
    for url in report_urls + ledger_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(_file_text(response))
    for url in ledger_urls:
        assert client.get(url + "?area=440106").status_code == 403
    auth.logout()

    # The company reads its impact PDF: the need's title is there (the check can see
    # text), the household is not; the household count is suppressed (fewer than five).
    auth.login(company)
    pdf = client.get("/reports/impact.pdf?period=all")
    assert pdf.status_code == 200
    text = _pdf_text(pdf.data)
    assert "给独居老人的电饭煲" in text and "<5" in text
    _assert_clean(text)
    auth.logout()

    # The owning district's caseworker does get the personal columns of the households
    # ledger (and so the check above would have caught them).
    auth.login(worker)
    assert CANARY["name"] in _file_text(client.get("/reports/exports/households.xlsx"))
    assert CANARY["phone"] in _file_text(client.get("/reports/exports/households.csv"))


def test_canary_absent_from_offers_bookings_and_provider_pages(
    client, auth, canary_need, caplog, session
):
    """A caseworker books a meal for the canary household (and a linked person books for
    themselves): the provider's check and redeem pages, its offers overview, the public
    offer pages and the logs hold nothing of the household."""
    caplog.set_level(logging.DEBUG)
    from app.accounts.models import User
    from app.offers import services as offers
    from tests.factories import meal_offer, recipient_account, restaurant

    _org, provider = restaurant()
    offer = meal_offer(provider)
    caseworker = session.get(User, canary_need.created_by_id)
    household = canary_need.household
    booking = offers.book(session, caseworker, offer.slots[0], household)
    person = recipient_account(phone="13722223333")
    offers.link_recipient(session, caseworker, "13722223333", household)
    own = offers.book(session, person, offer.slots[-1])
    code, own_code, offer_id = booking.code, own.code, offer.id

    token = {"Authorization": f"Bearer {issue_token(provider)}"}
    api = [
        client.get("/api/v1/offers"),
        client.get(f"/api/v1/offers/{offer_id}"),
        client.get(f"/api/v1/pickups/{own_code}", headers=token),
        client.post(f"/api/v1/pickups/{own_code}", headers=token),
    ]
    for response in api:
        assert response.status_code in (200, 409), response.status_code
        _assert_clean(response.get_data(as_text=True))
    for url in ["/offers", f"/offers/{offer_id}", "/offers?q=午餐"]:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.get_data(as_text=True))
    auth.login(provider)
    pages = [
        client.get(f"/provider/check?code={code}"),
        client.get(f"/provider/check?code={own_code}"),
        client.post("/provider/check", data={"code": code, "action": "redeem"}),
        client.get("/organisation/offers"),
        client.get(f"/offers/{offer_id}"),
        client.get("/points"),
    ]
    for response in pages:
        assert response.status_code == 200
        _assert_clean(response.get_data(as_text=True))
    _assert_clean(caplog.text)
