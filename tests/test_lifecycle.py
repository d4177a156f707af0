"""The need lifecycle: one table, one function, every step recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.needs import lifecycle
from app.needs.models import Need, NeedEvent, NeedState
from tests.factories import (
    YUEXIU,
    MicroWishFactory,
    RepairFactory,
    UserFactory,
    need_in_state,
)


def _author(need):
    return need.created_by


def test_full_path_records_every_event(session):
    need = need_in_state(NeedState.CLOSED)
    actions = [e.action for e in lifecycle.timeline(session, need)]
    assert actions == ["submit", "approve", "claim", "deliver", "confirm", "close"]
    events = lifecycle.timeline(session, need)
    assert [e.to_state for e in events][-1] is NeedState.CLOSED
    assert all(e.actor_id for e in events)
    assert events[0].from_state is NeedState.DRAFT


def test_author_cannot_publish_own_need_even_as_verifier(session):
    author = UserFactory(verifier=True)  # a verifier who also drafted the need
    need = MicroWishFactory(created_by_id=author.id, state=NeedState.SUBMITTED)
    session.flush()
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "approve", author)
    session.refresh(need)
    assert need.state is NeedState.SUBMITTED


def test_submitter_cannot_approve(session):
    need = MicroWishFactory()
    submitter = UserFactory(caseworker=True)
    lifecycle.transition(session, need, "submit", submitter)
    submitter.role = UserFactory(verifier=True).role  # promoted since; still the submitter
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "approve", submitter)
    assert need.state is NeedState.SUBMITTED


def test_a_different_verifier_publishes(session):
    need = need_in_state(NeedState.SUBMITTED)
    verifier = UserFactory(verifier=True)
    lifecycle.transition(session, need, "approve", verifier)
    assert need.state is NeedState.PUBLISHED
    assert need.published_at is not None


def test_verifier_outside_area_refused(session):
    need = need_in_state(NeedState.SUBMITTED)
    outsider = UserFactory(verifier=True, area_code=YUEXIU)
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "approve", outsider)
    assert need.state is NeedState.SUBMITTED


def test_city_verifier_covers_its_districts(session):
    need = need_in_state(NeedState.SUBMITTED)
    city_verifier = UserFactory(verifier=True, area_code="440100")
    lifecycle.transition(session, need, "approve", city_verifier)
    assert need.state is NeedState.PUBLISHED


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (NeedState.DRAFT, "approve"),
        (NeedState.DRAFT, "claim"),
        (NeedState.PUBLISHED, "confirm"),
        (NeedState.CLOSED, "cancel"),
        (NeedState.REJECTED, "approve"),
        (NeedState.CONFIRMED, "deliver"),
    ],
)
def test_illegal_transition_refused_and_need_unchanged(session, state, action):
    need = need_in_state(state)
    before = len(lifecycle.timeline(session, need))
    actor = UserFactory(verifier=True) if action == "approve" else _author(need)
    with pytest.raises(InvalidTransition):
        lifecycle.transition(session, need, action, actor)
    session.refresh(need)
    assert need.state is state
    assert len(lifecycle.timeline(session, need)) == before


def test_reject_needs_reason_and_keeps_it(session):
    need = need_in_state(NeedState.SUBMITTED)
    verifier = UserFactory(verifier=True)
    with pytest.raises(ValidationFailed):
        lifecycle.transition(session, need, "reject", verifier, note="   ")
    assert need.state is NeedState.SUBMITTED
    lifecycle.transition(session, need, "reject", verifier, note="请补充照片")
    assert need.state is NeedState.REJECTED
    assert need.rejection_reason == "请补充照片"
    # The caseworker can fix it and submit again.
    lifecycle.transition(session, need, "submit", _author(need))
    assert need.state is NeedState.SUBMITTED


def test_donor_cannot_claim_repair_but_verified_company_can(session):
    from tests.factories import OrganisationFactory, member_of

    need = need_in_state(NeedState.PUBLISHED, RepairFactory)
    donor = UserFactory()
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "claim", donor)
    pending = member_of(OrganisationFactory())
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "claim", pending)
    verified = member_of(OrganisationFactory(verified=True))
    lifecycle.transition(session, need, "claim", verified, claimant_id=verified.id)
    assert need.state is NeedState.CLAIMED


def test_expire_only_by_the_system(session):
    need = need_in_state(NeedState.PUBLISHED)
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "expire", _author(need))
    lifecycle.transition(session, need, "expire", None)
    assert need.state is NeedState.EXPIRED
    assert lifecycle.timeline(session, need)[-1].actor_id is None


def test_repair_above_cap_needs_exception_before_publication(session):
    from app.needs.services import approve_cost_exception

    need = need_in_state(NeedState.SUBMITTED, RepairFactory, estimated_cost_yuan=120_000)
    verifier = UserFactory(verifier=True)
    with pytest.raises(NotAllowed):
        lifecycle.transition(session, need, "approve", verifier)
    assert "approve" not in lifecycle.available_actions(need, verifier)
    approve_cost_exception(session, need, verifier, "危房，一事一议")
    lifecycle.transition(session, need, "approve", verifier)
    assert need.state is NeedState.PUBLISHED


def test_stale_state_loses_the_compare_and_set(session):
    """Two people acting on the same need: the one holding a stale copy changes nothing."""
    need = need_in_state(NeedState.PUBLISHED)
    donor_a, donor_b = UserFactory(), UserFactory()
    # donor_a's claim lands through another path; this in-memory ``need`` still says published.
    session.execute(
        update(Need)
        .where(Need.id == need.id)
        .values(state=NeedState.CLAIMED, claimant_id=donor_a.id)
        .execution_options(synchronize_session=False)
    )
    assert need.state is NeedState.PUBLISHED
    with pytest.raises(InvalidTransition):
        lifecycle.transition(session, need, "claim", donor_b, claimant_id=donor_b.id)
    assert need.state is NeedState.CLAIMED
    assert need.claimant_id == donor_a.id
    claims = session.scalars(
        select(NeedEvent).where(NeedEvent.need_id == need.id, NeedEvent.action == "claim")
    ).all()
    assert claims == []
