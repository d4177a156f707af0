"""Every stored time is UTC and shown in Asia/Shanghai, the same way on pages, CSV and API."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from app.claims.models import Claim
from app.claims.services import claim_need
from app.localtime import local_date, local_datetime, local_iso, local_time
from app.needs.models import NeedEvent, NeedState
from tests.factories import UserFactory, need_in_state
from tests.test_claims_http import bearer

# 20:30 UTC on New Year's Eve is 04:30 on New Year's Day in Guangzhou.
LATE_UTC = datetime(2025, 12, 31, 20, 30, tzinfo=UTC)


def test_helpers_convert_to_beijing():
    assert local_datetime(LATE_UTC) == "2026-01-01 04:30"
    assert local_date(LATE_UTC) == "2026-01-01"
    assert local_time(LATE_UTC) == "04:30"
    assert local_iso(LATE_UTC) == "2026-01-01T04:30:00+08:00"
    assert local_datetime(LATE_UTC.replace(tzinfo=None)) == "2026-01-01 04:30"  # naive is UTC
    assert local_datetime(None) == ""


def test_timeline_shows_beijing_time(client, auth, session):
    need = need_in_state(NeedState.SUBMITTED)
    session.execute(update(NeedEvent).where(NeedEvent.need_id == need.id).values(at=LATE_UTC))
    auth.login(UserFactory(verifier=True))
    page = client.get(f"/work/needs/{need.id}").get_data(as_text=True)
    assert "2026-01-01 04:30" in page
    assert "2025-12-31 20:30" not in page
    assert 'datetime="2026-01-01T04:30:00+08:00"' in page


def test_api_times_carry_the_beijing_offset(client, session, no_mail):
    need = need_in_state(NeedState.PUBLISHED)
    donor = UserFactory()
    claim = claim_need(session, need, donor)
    session.execute(update(Claim).where(Claim.id == claim.id).values(due_at=LATE_UTC))
    items = client.get("/api/v1/me/claims", headers=bearer(donor)).json["items"]
    assert items[0]["due_at"] == "2026-01-01T04:30:00+08:00"
