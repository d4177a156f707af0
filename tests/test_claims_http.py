"""Claims, delivery, shifts and donations through the pages and the JSON API."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.accounts.models import MemberRole, User
from app.accounts.services import create_api_key, issue_token
from app.claims import services
from app.claims.models import Claim, ClaimStatus
from app.donations.models import Donation, DonationStatus
from app.models_base import local_today
from app.needs.models import Need, NeedState
from app.shifts import services as shift_services
from app.shifts.models import Shift
from app.uploads.models import Attachment
from tests.factories import (
    FarmHelpFactory,
    OrganisationFactory,
    UserFactory,
    member_of,
    need_in_state,
)


@pytest.fixture(autouse=True)
def uploads_in_tmp(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))


def jpeg() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, "JPEG")
    buffer.seek(0)
    return buffer


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user)}"}


def test_claim_deliver_confirm_through_pages(client, auth, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    address = need.household.address
    donor = UserFactory()
    auth.login(donor)
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert f'action="/needs/{need.id}/claim"' in page
    response = client.post(f"/needs/{need.id}/claim", data={"method": "handover"})
    assert response.status_code == 302
    claim = session.scalar(select(Claim))
    detail = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert claim.handover_code in detail and 'id="exact-address"' not in detail
    assert address not in detail
    response = client.post(
        f"/claims/{claim.id}/deliver",
        data={"note": "已交给社工站", "photos": [(jpeg(), "proof.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert session.scalar(select(func.count(Attachment.id))) == 1
    auth.logout()
    auth.login(session.get(User, need.created_by_id))
    page = client.get(f"/work/needs/{need.id}").get_data(as_text=True)
    assert "/attachments/" in page and 'data-action="confirm"' in page
    assert (
        client.post(f"/claims/{claim.id}/confirm", data={"follow_up_days": "10"}).status_code == 302
    )
    assert session.get(Need, need.id).state is NeedState.CONFIRMED


def test_bad_proof_upload_is_refused_and_nothing_changes(client, auth, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    claim = services.claim_need(session, need, donor)
    auth.login(donor)
    script = io.BytesIO(b"#!/bin/sh\nrm -rf /\n")
    response = client.post(
        f"/claims/{claim.id}/deliver",
        data={"note": "x", "photos": [(script, "photo.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert session.get(Claim, claim.id).status is ClaimStatus.ACTIVE
    assert session.get(Need, need.id).state is NeedState.CLAIMED
    assert session.scalar(select(func.count(Attachment.id))) == 0


def test_withdraw_requires_reason_on_page(client, auth, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    claim = services.claim_need(session, need, donor)
    auth.login(donor)
    assert client.post(f"/claims/{claim.id}/withdraw", data={"note": ""}).status_code == 422
    assert client.post(f"/claims/{claim.id}/withdraw", data={"note": "没货了"}).status_code == 302
    assert session.get(Need, need.id).state is NeedState.PUBLISHED


def test_other_donor_cannot_touch_a_claim(client, auth, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    claim = services.claim_need(session, need, UserFactory())
    auth.login(UserFactory())
    assert client.get(f"/claims/{claim.id}").status_code == 403
    assert client.post(f"/claims/{claim.id}/withdraw", data={"note": "x"}).status_code == 403
    assert client.post(f"/claims/{claim.id}/confirm").status_code == 403


def test_shift_planning_signup_and_check_in_pages(client, auth, session, no_mail):
    today = local_today()
    need = need_in_state(
        NeedState.PUBLISHED,
        FarmHelpFactory,
        window_start=today,
        window_end=today + timedelta(days=3),
    )
    worker = session.get(User, need.created_by_id)
    auth.login(worker)
    response = client.post(
        f"/work/needs/{need.id}/shifts",
        data={"day": today.isoformat(), "start_time": "08:00", "end_time": "12:00", "places": "3"},
    )
    assert response.status_code == 302
    shift = session.scalar(select(Shift))
    shift_id, code = shift.id, shift.checkin_code
    bad = client.post(
        f"/work/needs/{need.id}/shifts",
        data={"day": today.isoformat(), "start_time": "12:00", "end_time": "08:00", "places": "1"},
    )
    assert bad.status_code == 422
    auth.logout()
    org = OrganisationFactory(verified=True, team=True)
    leader = member_of(org)
    mate = member_of(org, MemberRole.MEMBER)
    auth.login(leader)
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert f'value="{mate.id}"' in page
    response = client.post(f"/shifts/{shift_id}/signup", data={"member_ids": [leader.id, mate.id]})
    assert response.status_code == 302
    assert session.get(Shift, shift_id).places_taken == 2
    assert client.post(f"/shifts/{shift_id}/check", data={"code": "nope"}).status_code == 422
    assert client.post(f"/shifts/{shift_id}/check", data={"code": code}).status_code == 302
    page = client.get(f"/shifts/{shift_id}/check").get_data(as_text=True)
    assert 'name="direction" value="out"' in page


def test_api_claim_201_then_409_with_message(client, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    first, second = UserFactory(), UserFactory()
    response = client.post(f"/api/v1/needs/{need.id}/claims", json={}, headers=bearer(first))
    assert response.status_code == 201
    assert response.json["status"] == "active" and response.json["need_id"] == need.id
    assert "household" not in response.json
    again = client.post(
        f"/api/v1/needs/{need.id}/claims", json={"method": "handover"}, headers=bearer(second)
    )
    assert again.status_code == 409 and again.json["message"]
    mine = client.get("/api/v1/me/claims", headers=bearer(first)).json["items"]
    assert [c["need_id"] for c in mine] == [need.id]


def test_api_claim_errors(client, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    assert client.post(f"/api/v1/needs/{need.id}/claims", json={}).status_code == 401
    bad = client.post(
        f"/api/v1/needs/{need.id}/claims", json={"method": "drone"}, headers=bearer(donor)
    )
    assert bad.status_code == 422 and "method" in bad.json["errors"]
    farm = need_in_state(NeedState.PUBLISHED, FarmHelpFactory)
    team = member_of(OrganisationFactory(verified=True, team=True))
    assert (
        client.post(f"/api/v1/needs/{farm.id}/claims", json={}, headers=bearer(team)).status_code
        == 409
    )
    draft = need_in_state(NeedState.DRAFT)
    assert (
        client.post(f"/api/v1/needs/{draft.id}/claims", json={}, headers=bearer(donor)).status_code
        == 404
    )


def test_api_full_loop(client, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    worker = session.get(User, need.created_by_id)
    claim_id = client.post(f"/api/v1/needs/{need.id}/claims", json={}, headers=bearer(donor)).json[
        "id"
    ]
    assert (
        client.post(
            f"/api/v1/claims/{claim_id}/delivery", json={"note": "到了"}, headers=bearer(donor)
        ).json["status"]
        == "delivered"
    )
    assert (
        client.post(
            f"/api/v1/claims/{claim_id}/confirm", json={}, headers=bearer(donor)
        ).status_code
        == 403
    )
    disputed = client.post(
        f"/api/v1/claims/{claim_id}/dispute", json={"reason": "没收到"}, headers=bearer(worker)
    )
    assert disputed.json["status"] == "disputed"
    client.post(f"/api/v1/claims/{claim_id}/delivery", json={}, headers=bearer(donor))
    confirmed = client.post(
        f"/api/v1/claims/{claim_id}/confirm", json={"follow_up_days": 0}, headers=bearer(worker)
    )
    assert confirmed.status_code == 200 and confirmed.json["status"] == "confirmed"


def test_api_withdraw(client, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    claim = services.claim_need(session, need, donor)
    assert (
        client.post(
            f"/api/v1/claims/{claim.id}/withdraw", json={}, headers=bearer(donor)
        ).status_code
        == 422
    )
    response = client.post(
        f"/api/v1/claims/{claim.id}/withdraw", json={"reason": "出差"}, headers=bearer(donor)
    )
    assert response.status_code == 200 and response.json["status"] == "withdrawn"


def test_api_signups_and_check_in(client, session, no_mail):
    today = local_today()
    need = need_in_state(NeedState.PUBLISHED, FarmHelpFactory, window_start=today, window_end=today)
    worker = session.get(User, need.created_by_id)
    from datetime import time

    shift = shift_services.add_shift(
        session,
        need,
        worker,
        shift_services.ShiftData(day=today, start_time=time(8), end_time=time(12), places=2),
    )
    org = OrganisationFactory(verified=True, team=True)
    leader = member_of(org)
    mates = [member_of(org, MemberRole.MEMBER) for _ in range(2)]
    response = client.post(
        f"/api/v1/shifts/{shift.id}/signups",
        json={"member_ids": [leader.id, mates[0].id]},
        headers=bearer(leader),
    )
    assert response.status_code == 201 and len(response.json["items"]) == 2
    full = client.post(
        f"/api/v1/shifts/{shift.id}/signups",
        json={"member_ids": [mates[1].id]},
        headers=bearer(leader),
    )
    assert full.status_code == 409 and full.json["message"]
    code = shift.checkin_code
    assert (
        client.post(
            f"/api/v1/shifts/{shift.id}/checkout", json={"code": code}, headers=bearer(mates[0])
        ).status_code
        == 409
    )
    checked_in = client.post(
        f"/api/v1/shifts/{shift.id}/checkin", json={"code": code}, headers=bearer(mates[0])
    )
    assert checked_in.status_code == 200 and checked_in.json["checked_in_at"]
    out = client.post(
        f"/api/v1/shifts/{shift.id}/checkout", json={"code": code}, headers=bearer(mates[0])
    )
    assert out.status_code == 200 and out.json["hours_worked"] >= 0
    outsider = member_of(OrganisationFactory(verified=True, team=True))
    assert (
        client.post(
            f"/api/v1/shifts/{shift.id}/checkin", json={"code": code}, headers=bearer(outsider)
        ).status_code
        == 403
    )


def test_api_donation_with_company_key_is_idempotent(client, session, no_mail):
    company = member_of(OrganisationFactory(verified=True))
    key = create_api_key(session, company.organisation, company, "ERP")
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "item": "大米",
        "quantity": 20,
        "value_yuan": 1000,
        "district_code": "440106",
        "external_ref": "ERP-0001",
    }
    first = client.post("/api/v1/donations", json=body, headers=headers)
    assert first.status_code == 201 and first.json["status"] == "logged"
    replay = client.post("/api/v1/donations", json=body, headers=headers)
    assert replay.status_code == 200 and replay.json["id"] == first.json["id"]
    assert session.scalar(select(func.count(Donation.id))) == 1
    bad = client.post(
        "/api/v1/donations", json={**body, "external_ref": "", "quantity": 0}, headers=headers
    )
    assert bad.status_code == 422 and "quantity" in bad.json["errors"]
    donor = UserFactory()
    assert client.post("/api/v1/donations", json=body, headers=bearer(donor)).status_code == 403


def test_donation_csv_all_or_nothing(client, auth, session, no_mail):
    company = member_of(OrganisationFactory(verified=True))
    need = need_in_state(NeedState.PUBLISHED)
    auth.login(company)
    good = (
        "item,quantity,value_yuan,need_id,district_code,note,external_ref\n"
        f"棉被,10,800,{need.id},,,R1\n食用油,5,300,,440106,,R2\n"
    )
    bad = good + "大米,-3,100,,440106,,R3\n电风扇,1,100,,999999,,R4\n"
    response = client.post(
        "/donations",
        data={"action": "csv", "csv-file": (io.BytesIO(bad.encode()), "d.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="csv-errors"' in page and page.count("<li>") >= 2
    assert session.scalar(select(func.count(Donation.id))) == 0
    response = client.post(
        "/donations",
        data={"action": "csv", "csv-file": (io.BytesIO(good.encode("utf-8-sig")), "d.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert session.scalar(select(func.count(Donation.id))) == 2
    # The same file again logs nothing new (external references).
    client.post(
        "/donations",
        data={"action": "csv", "csv-file": (io.BytesIO(good.encode()), "d.csv")},
        content_type="multipart/form-data",
    )
    assert session.scalar(select(func.count(Donation.id))) == 2


def test_caseworker_receives_and_allocates_pool_donation(client, auth, session, no_mail):
    from app.donations import services as donations

    company = member_of(OrganisationFactory(verified=True))
    logged = donations.log_donation(
        session,
        company,
        donations.DonationData(item="食用油", quantity=5, value_yuan=300, district_code="440106"),
    )
    need = need_in_state(NeedState.PUBLISHED)
    worker = session.get(User, need.created_by_id)
    auth.login(worker)
    assert "食用油" in client.get("/work/donations").get_data(as_text=True)
    assert client.post(f"/donations/{logged.donation.id}/receive").status_code == 302
    assert (
        client.post(
            f"/donations/{logged.donation.id}/allocate", data={"need_id": need.id}
        ).status_code
        == 302
    )
    donation = session.get(Donation, logged.donation.id)
    assert donation.status is DonationStatus.RECEIVED and donation.need_id == need.id
    outsider = UserFactory(caseworker=True, area_code="440104")
    auth.logout()
    auth.login(outsider)
    assert client.post(f"/donations/{logged.donation.id}/reject").status_code == 403


def test_absurd_numbers_are_refused_not_crashing(client, auth, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    claim = services.claim_need(session, need, donor)
    services.mark_delivered(session, claim, donor, "")
    worker = session.get(User, need.created_by_id)
    auth.login(worker)
    response = client.post(f"/claims/{claim.id}/confirm", data={"follow_up_days": "999999999"})
    assert response.status_code == 302  # clamped to a year
    auth.logout()
    company = member_of(OrganisationFactory(verified=True))
    auth.login(company)
    rows = (
        "item,quantity,value_yuan,need_id,district_code\n"
        "米,²,10,,440106\n油,1,10,99999999999999999999,\n"
    )
    response = client.post(
        "/donations",
        data={"action": "csv", "csv-file": (io.BytesIO(rows.encode()), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    form = client.post(
        "/donations",
        data={
            "action": "log",
            "d-item": "米",
            "d-quantity": "1",
            "d-value_yuan": "1",
            "d-need_id": "99999999999999999999",
        },
    )
    assert form.status_code == 422
    assert session.scalar(select(func.count(Donation.id))) == 0
