"""The need lifecycle: one table of allowed transitions and one function that performs them.

draft -> submitted -> published (approved by a verifier who is not the author) or rejected
(with a reason) -> claimed -> delivered -> confirmed -> closed; plus cancelled and expired.
The table is a :class:`app.statemachine.StateMachine` like every other status; this module
adds the need's own rules (the author never verifies; the repair cost cap), its timeline
(``NeedEvent``) and the ``need_transitioned`` event. Assigning ``Need.state`` anywhere
else fails the flush.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import User
from app.models_base import utcnow
from app.needs.models import PUBLIC_STATES, Need, NeedEvent, NeedState
from app.statemachine import Move, StateMachine

S = NeedState


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


MOVES: dict[str, Move] = {
    "submit": Move({S.DRAFT, S.REJECTED}, S.SUBMITTED, _caseworker),
    "approve": Move({S.SUBMITTED}, S.PUBLISHED, _verifier),
    "reject": Move({S.SUBMITTED}, S.REJECTED, _verifier, note_required=True),
    # Something private reached a published need: the verifier takes it off the public pages
    # in one step and returns it to the caseworker with the reason.
    "pull_back": Move({S.PUBLISHED}, S.REJECTED, _verifier, note_required=True),
    "claim": Move({S.PUBLISHED}, S.CLAIMED, _claimer),
    # Fully funded in cash: the payment webhook (the system) takes it off offer.
    "fund": Move({S.PUBLISHED}, S.CLAIMED, _system),
    "release": Move({S.CLAIMED}, S.PUBLISHED, _claimant_or_caseworker, note_required=True),
    "deliver": Move({S.CLAIMED}, S.DELIVERED, _claimant_or_caseworker),
    "confirm": Move({S.DELIVERED}, S.CONFIRMED, _caseworker),
    "dispute": Move({S.DELIVERED}, S.CLAIMED, _caseworker, note_required=True),
    # A confirmation made in error is withdrawn (its points are reversed by counter-entries).
    "unconfirm": Move({S.CONFIRMED}, S.DELIVERED, _caseworker, note_required=True),
    "close": Move({S.CONFIRMED}, S.CLOSED, _caseworker),
    "cancel": Move(
        {S.DRAFT, S.SUBMITTED, S.PUBLISHED, S.REJECTED, S.CLAIMED},
        S.CANCELLED,
        _caseworker,
        note_required=True,
    ),
    "expire": Move({S.PUBLISHED}, S.EXPIRED, _system),
    # A claim not delivered in time lapses: the sweep puts the need back on offer.
    "lapse": Move({S.CLAIMED}, S.PUBLISHED, _system, note_required=True),
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
    return NEED.available(need, actor)


def _guard(need: Need, action: str, actor: User | None) -> str | None:
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


NEED = StateMachine(
    "need",
    Need,
    Need.state,
    MOVES,
    labels=ACTION_LABELS,
    guard=_guard,
    noun=_l("need"),
)
TRANSITIONS = NEED.moves


def transition(
    session: Session,
    need: Need,
    action: str,
    actor: User | None,
    note: str = "",
    **changes: object,
) -> NeedEvent:
    """Move ``need`` by ``action`` through :data:`NEED` (table, permission, the rules of
    :func:`_guard`, compare-and-set, status event), then record the step on the need's own
    timeline and tell the other domains (``events.need_transitioned``).

    Two people acting at once cannot both win: the loser gets ``InvalidTransition`` and the
    need stays as the winner left it. ``changes`` are extra columns set in the same update.
    """
    note = (note or "").strip()
    values: dict[str, object] = {"updated_at": utcnow(), **changes}
    if action == "approve":
        values["published_at"] = utcnow()
    if action in ("reject", "pull_back"):
        values["rejection_reason"] = note
    current = need.state
    record = NEED.apply(session, need, action, actor, note, **values)
    event = NeedEvent(
        need_id=need.id,
        actor_id=actor.id if actor else None,
        from_state=current,
        to_state=need.state,
        action=action,
        note=record.note,
    )
    session.add(event)
    session.flush()
    session.refresh(need)
    # The light, the search index, claims, shifts, payments, points and notifications
    # react to this (each in its own package's handlers.py).
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
    events.emit(events.need_touched, session=session, need=need)


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
