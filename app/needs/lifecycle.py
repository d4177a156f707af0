"""The need lifecycle: one table of allowed transitions and one function that performs them.

draft -> submitted -> published (approved by a verifier who is not the author) or rejected
(with a reason) -> claimed -> delivered -> confirmed -> closed; plus cancelled and expired.
No code outside this module assigns ``Need.state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import User
from app.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.models_base import utcnow
from app.needs.models import PUBLIC_STATES, Need, NeedEvent, NeedState

S = NeedState
Permission = Callable[[Need, User | None], bool]


def _caseworker(need: Need, actor: User | None) -> bool:
    return actor is not None and actor.is_caseworker_for(need.district_code)


def _verifier(need: Need, actor: User | None) -> bool:
    return actor is not None and actor.is_verifier_for(need.district_code)


def _claimer(need: Need, actor: User | None) -> bool:
    return actor is not None and need.can_claim(actor)


def _claimant_or_caseworker(need: Need, actor: User | None) -> bool:
    return actor is not None and (need.is_claimant(actor) or _caseworker(need, actor))


def _system(need: Need, actor: User | None) -> bool:
    return actor is None


@dataclass(frozen=True)
class Transition:
    sources: frozenset[NeedState]
    target: NeedState
    allowed: Permission
    note_required: bool = False


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({S.DRAFT, S.REJECTED}), S.SUBMITTED, _caseworker),
    "approve": Transition(frozenset({S.SUBMITTED}), S.PUBLISHED, _verifier),
    "reject": Transition(frozenset({S.SUBMITTED}), S.REJECTED, _verifier, note_required=True),
    # Something private reached a published need: the verifier takes it off the public pages
    # in one step and returns it to the caseworker with the reason.
    "pull_back": Transition(frozenset({S.PUBLISHED}), S.REJECTED, _verifier, note_required=True),
    "claim": Transition(frozenset({S.PUBLISHED}), S.CLAIMED, _claimer),
    # Fully funded in cash: the payment webhook (the system) takes it off offer.
    "fund": Transition(frozenset({S.PUBLISHED}), S.CLAIMED, _system),
    "release": Transition(
        frozenset({S.CLAIMED}), S.PUBLISHED, _claimant_or_caseworker, note_required=True
    ),
    "deliver": Transition(frozenset({S.CLAIMED}), S.DELIVERED, _claimant_or_caseworker),
    "confirm": Transition(frozenset({S.DELIVERED}), S.CONFIRMED, _caseworker),
    "dispute": Transition(frozenset({S.DELIVERED}), S.CLAIMED, _caseworker, note_required=True),
    # A confirmation made in error is withdrawn (its points are reversed by counter-entries).
    "unconfirm": Transition(frozenset({S.CONFIRMED}), S.DELIVERED, _caseworker, note_required=True),
    "close": Transition(frozenset({S.CONFIRMED}), S.CLOSED, _caseworker),
    "cancel": Transition(
        frozenset({S.DRAFT, S.SUBMITTED, S.PUBLISHED, S.REJECTED, S.CLAIMED}),
        S.CANCELLED,
        _caseworker,
        note_required=True,
    ),
    "expire": Transition(frozenset({S.PUBLISHED}), S.EXPIRED, _system),
    # A claim not delivered in time lapses: the sweep puts the need back on offer.
    "lapse": Transition(frozenset({S.CLAIMED}), S.PUBLISHED, _system, note_required=True),
}

ACTION_LABELS = {
    "create": _l("Created"),
    "edit": _l("Edited"),
    "submit": _l("Submit for verification"),
    "approve": _l("Approve and publish"),
    "reject": _l("Reject"),
    "pull_back": _l("Pull back for privacy review"),
    "claim": _l("Claim"),
    "fund": _l("Fully funded"),
    "release": _l("Release claim"),
    "deliver": _l("Mark delivered"),
    "confirm": _l("Confirm fulfilment"),
    "dispute": _l("Dispute delivery"),
    "close": _l("Close after follow-up"),
    "cancel": _l("Cancel"),
    "expire": _l("Expire"),
    "lapse": _l("Claim lapsed"),
    "unconfirm": _l("Withdraw confirmation"),
}


def available_actions(need: Need, actor: User | None) -> list[str]:
    """Actions the actor may take on the need now (for buttons and the API)."""
    return [
        action
        for action, t in TRANSITIONS.items()
        if need.state in t.sources
        and t.allowed(need, actor)
        and _guard(action, need, actor) is None
    ]


def _guard(action: str, need: Need, actor: User | None) -> str | None:
    """Rules beyond role and state; returns the refusal message, or None."""
    if action == "approve" and actor is not None:
        if actor.id in _authors(need):
            return str(_l("A need cannot be verified by the person who wrote or submitted it."))
        from flask import current_app

        cap = current_app.config["REPAIR_COST_CAP_YUAN"]
        cap_text = f"{cap:,}"
        if need.needs_cost_exception(cap) and not need.has_cost_exception:
            return str(
                _l(
                    "This repair costs more than ¥%(cap)s; a supervisor must approve an "
                    "exception (一事一议) before it can be published.",
                    cap=cap_text,
                )
            )
    return None


def _authors(need: Need) -> set[int]:
    authors = {need.created_by_id}
    authors.update(
        e.actor_id for e in need.events if e.action in {"create", "submit", "edit"} and e.actor_id
    )
    return authors


def transition(
    session: Session,
    need: Need,
    action: str,
    actor: User | None,
    note: str = "",
    **changes: object,
) -> NeedEvent:
    """Move ``need`` by ``action``; check permission; record the event.

    The state change is a compare-and-set (``UPDATE ... WHERE state = <expected>``), so two
    people acting at once cannot both win: the loser gets ``InvalidTransition`` and the
    need stays as the winner left it. ``changes`` are extra columns set in the same update.
    """
    spec = TRANSITIONS.get(action)
    if spec is None:
        raise InvalidTransition(_l("Unknown action."))
    current = need.state
    if current not in spec.sources:
        raise InvalidTransition(
            _l(
                "This need is %(state)s; it cannot be changed by “%(action)s”.",
                state=state_label(current),
                action=ACTION_LABELS[action],
            )
        )
    if not spec.allowed(need, actor):
        raise NotAllowed(_l("You are not allowed to do that to this need."))
    refusal = _guard(action, need, actor)
    if refusal:
        raise NotAllowed(refusal)
    note = (note or "").strip()
    if spec.note_required and not note:
        raise ValidationFailed(
            _l("Please give a reason."), errors={"note": [str(_l("A reason is required."))]}
        )
    if len(note) > 500:
        raise ValidationFailed(
            _l("The reason is too long."), errors={"note": [str(_l("At most 500 characters."))]}
        )

    values: dict[str, object] = {"state": spec.target, "updated_at": utcnow(), **changes}
    if action == "approve":
        values["published_at"] = utcnow()
    if action in ("reject", "pull_back"):
        values["rejection_reason"] = note
    result = session.execute(
        update(Need)
        .where(Need.id == need.id, Need.state == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(need)
        raise InvalidTransition(
            _l(
                "Someone else changed this need a moment ago; it is now %(state)s.",
                state=state_label(need.state),
            )
        )
    event = NeedEvent(
        need_id=need.id,
        actor_id=actor.id if actor else None,
        from_state=current,
        to_state=spec.target,
        action=action,
        note=note,
    )
    session.add(event)
    session.flush()
    session.refresh(need)
    from app.supervision.lights import refresh_light  # lights read claims; avoid a cycle

    refresh_light(session, need)
    from app import search_index  # the index reads needs; imported late like the lights

    search_index.need_changed(session, need, was_public=current in PUBLIC_STATES)
    events.emit(
        events.need_transitioned,
        session=session,
        need=need,
        event=event,
        actor=actor,
        was_public=current in PUBLIC_STATES,
    )
    return event


def touch(session: Session, need: Need) -> None:
    """Activity on a need without a state change (a sign-up, an acceptance, a check-in)
    still counts for the traffic light's idle rules."""
    session.execute(
        update(Need)
        .where(Need.id == need.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(need)
    from app.supervision.lights import refresh_light

    refresh_light(session, need)


def record_creation(session: Session, need: Need, actor: User) -> None:
    session.add(
        NeedEvent(
            need_id=need.id,
            actor_id=actor.id,
            from_state=None,
            to_state=need.state,
            action="create",
        )
    )


def record_edit(session: Session, need: Need, actor: User, note: str = "") -> None:
    session.add(
        NeedEvent(
            need_id=need.id,
            actor_id=actor.id,
            from_state=need.state,
            to_state=need.state,
            action="edit",
            note=note,
        )
    )


def timeline(session: Session, need: Need) -> list[NeedEvent]:
    return list(
        session.scalars(
            select(NeedEvent).where(NeedEvent.need_id == need.id).order_by(NeedEvent.id)
        )
    )


def state_label(state: NeedState) -> str:
    from app.labels import label

    return label(state)
