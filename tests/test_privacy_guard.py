"""The privacy guard on every path that writes public text, the verifier's checklist, the
pull-back and the rescan command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.donations.models import Donation
from app.errors import ValidationFailed
from app.models_base import local_today
from app.needs import fulfilment
from app.needs.models import Need, NeedState
from tests.factories import (
    HouseholdFactory,
    OrganisationFactory,
    UserFactory,
    member_of,
    need_in_state,
)

ADDRESS_STORY = "老人住石牌村东约12号，电饭煲坏了，做饭很困难。"


@pytest.fixture
def household(session):
    return HouseholdFactory(name="陈桂英", address="天河区石牌街道石牌村东约12号")


def _wish(**changes):
    data = {
        "kind": "micro_wish",
        "title": "一台电饭煲",
        "story": "老人独居，电饭煲坏了，做饭很困难。",
        "category": "living",
        "urgency": "normal",
        "deadline": (local_today() + timedelta(days=20)).isoformat(),
        "item": "电饭煲",
        "quantity": "1",
        "estimated_value_yuan": "260",
    }
    data.update(changes)
    return data


def test_need_form_refuses_an_address_marks_it_and_keeps_the_input(client, auth, household):
    worker = UserFactory(caseworker=True)
    auth.login(worker)
    url = f"/work/households/{household.id}/needs/new"
    response = client.post(url, data=_wish(story=ADDRESS_STORY))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert ADDRESS_STORY.split("，")[1] in page  # the story is still in the textarea
    assert '<mark class="privacy-hit">石牌村东约12号</mark>' in page
    assert "石牌村东约12号”" in page  # named in the explanation too
    response = client.post(url, data=_wish(story="有事请打 138 0013 8000 联系家属，谢谢"))
    assert response.status_code == 422
    assert '<mark class="privacy-hit">138 0013 8000</mark>' in response.get_data(as_text=True)
    # A member's name from the household's record, in the title.
    response = client.post(url, data=_wish(title="给桂英奶奶的电饭煲"))
    assert response.status_code == 422
    assert client.post(url, data=_wish()).status_code == 302


def test_edit_and_thank_you_go_through_the_same_guard(session, household):
    need = need_in_state(NeedState.CONFIRMED, household=household)
    worker = session.get(type(need.created_by), need.created_by_id)
    with pytest.raises(ValidationFailed) as refused:
        fulfilment.set_thank_you(session, need, worker, "谢谢！有空来石牌村东约12号坐坐")
    assert "thank_you" in refused.value.errors
    with pytest.raises(ValidationFailed):
        fulfilment.set_thank_you(session, need, worker, "谢谢，电话 020-8765 4321")


def test_donation_csv_and_api_refuse_private_text(client, auth, session, no_mail):
    from tests.test_claims_http import bearer

    company = member_of(OrganisationFactory(verified=True))
    auth.login(company)
    rows = (
        "item,quantity,value_yuan,need_id,district_code,note,external_ref\n"
        "棉被,10,800,,440106,送到13800138000家,R1\n"
    )
    response = client.post(
        "/donations",
        data={"action": "csv", "csv-file": (io.BytesIO(rows.encode()), "d.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "13800138000" in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Donation.id))) == 0
    body = {"item": "棉被", "quantity": 2, "value_yuan": 100, "district_code": "440106"}
    bad = client.post(
        "/api/v1/donations",
        json={**body, "note": "车牌粤A12345送货"},
        headers=bearer(company),
    )
    assert bad.status_code == 422 and "note" in bad.json["errors"]


def test_verifier_must_tick_the_checklist_and_sees_findings(client, auth, session, household):
    need = need_in_state(NeedState.SUBMITTED, household=household, story="陈婆婆住在6楼，没电梯。")
    verifier = UserFactory(verifier=True)
    auth.login(verifier)
    page = client.get(f"/work/needs/{need.id}").get_data(as_text=True)
    assert 'id="privacy-checklist"' in page
    assert 'class="privacy-hit unsure"' in page  # the surname with 婆婆, the floor
    assert 'name="privacy_checked"' in page
    response = client.post(f"/work/needs/{need.id}/approve")
    assert response.status_code == 422
    assert 'id="action-error"' in response.get_data(as_text=True)
    assert session.get(Need, need.id).state is NeedState.SUBMITTED
    response = client.post(f"/work/needs/{need.id}/approve", data={"privacy_checked": "1"})
    assert response.status_code == 302
    assert session.get(Need, need.id).state is NeedState.PUBLISHED


def test_a_certain_finding_blocks_publication(client, auth, session, household):
    # Written before the guard existed (straight into the table).
    need = need_in_state(NeedState.SUBMITTED, household=household, story=ADDRESS_STORY)
    auth.login(UserFactory(verifier=True))
    response = client.post(f"/work/needs/{need.id}/approve", data={"privacy_checked": "1"})
    assert response.status_code == 422
    assert session.get(Need, need.id).state is NeedState.SUBMITTED


def test_scan_lists_hits_without_the_text_and_pull_back_unpublishes(
    app, client, auth, session, household
):
    leaked = need_in_state(NeedState.PUBLISHED, household=household, story=ADDRESS_STORY)
    clean = need_in_state(NeedState.PUBLISHED)
    draft = need_in_state(NeedState.DRAFT, story=ADDRESS_STORY)
    session.commit()
    result = app.test_cli_runner().invoke(args=["privacy-scan"])
    assert result.exit_code == 0, result.output
    assert f"need {leaked.id} [published] REFUSE: story:address" in result.output
    assert f"need {clean.id} " not in result.output
    assert f"need {draft.id} " not in result.output  # not public
    assert "石牌" not in result.output and "12号" not in result.output
    assert client.get(f"/needs/{leaked.id}").status_code == 200
    auth.login(UserFactory(verifier=True))
    page = client.get(f"/work/needs/{leaked.id}").get_data(as_text=True)
    assert 'data-action="pull_back"' in page
    response = client.post(f"/work/needs/{leaked.id}/pull_back", data={"note": "故事里有门牌号"})
    assert response.status_code == 302
    need = session.get(Need, leaked.id)
    assert need.state is NeedState.REJECTED and need.rejection_reason == "故事里有门牌号"
    auth.logout()
    assert client.get(f"/needs/{leaked.id}").status_code == 404
    assert client.get(f"/api/v1/needs/{leaked.id}").status_code == 404
