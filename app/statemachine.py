"""Explicit state machines: one transition table per status column, one function that moves.

Every model with a status declares a :class:`StateMachine` next to its services::

    CLAIM = StateMachine(
        "claim", Claim, Claim.status,
        {
            "deliver": Move({ClaimStatus.ACTIVE}, ClaimStatus.DELIVERED, claimant_or_caseworker),
            "lapse": Move({ClaimStatus.ACTIVE}, ClaimStatus.LAPSED, system, note_required=True),
        },
    )
    CLAIM.apply(session, claim, "deliver", actor=user)

``apply`` checks the table and the permission, then changes the status with a
compare-and-set ``UPDATE ... WHERE status = <expected>`` (two people acting at once cannot
both win), records a :class:`~app.core.models.StatusEvent` and sends
:data:`app.events.status_changed`. :func:`_refuse_direct_status_change` makes any other way of
changing a registered status column fail loudly at flush time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import event as orm_event
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app import events
from app.core.models import StatusEvent
from app.errors import InvalidTransition, NotAllowed, ValidationFailed

M = TypeVar("M")
Permission = Callable[[Any, Any], bool]
#: Rules beyond the table (state and role): ``guard(obj, action, actor)`` returns the
#: refusal message, or None.
Guard = Callable[[Any, str, Any], Any]
NOTE_MAX = 500


def anyone(obj: object, actor: object) -> bool:
    return True


def system(obj: object, actor: object) -> bool:
    """Only the system (sweeps, webhooks, workers) may take this move: no actor."""
    return actor is None


@dataclass(frozen=True)
class Move:
    """One row of a transition table: from any of ``sources`` to ``target``."""

    sources: frozenset[enum.Enum]
    target: enum.Enum
    allowed: Permission = anyone
    note_required: bool = False

    def __init__(
        self,
        sources: Iterable[enum.Enum],
        target: enum.Enum,
        allowed: Permission = anyone,
        note_required: bool = False,
    ) -> None:
        object.__setattr__(self, "sources", frozenset(sources))
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "allowed", allowed)
        object.__setattr__(self, "note_required", note_required)


#: Every machine, by name (tests walk it; :func:`guard_status_columns` reads it).
REGISTRY: dict[str, StateMachine[Any]] = {}

# Set while ``apply`` performs its own UPDATE, so the guard lets exactly that through.
_APPLYING: set[int] = set()


@dataclass
class StateMachine(Generic[M]):
    name: str
    model: type[M]
    column: InstrumentedAttribute[Any]
    moves: dict[str, Move]
    labels: dict[str, Any] = field(default_factory=dict)
    guard: Guard | None = None
    #: What the thing is called in refusals ("This claim is delivered; ...").
    noun: Any = None

    def __post_init__(self) -> None:
        if self.name in REGISTRY and REGISTRY[self.name].model is not self.model:
            raise RuntimeError(f"two state machines named {self.name!r}")
        REGISTRY[self.name] = self

    @property
    def states(self) -> set[enum.Enum]:
        found: set[enum.Enum] = set()
        for move in self.moves.values():
            found |= move.sources | {move.target}
        return found

    def status_of(self, obj: M) -> enum.Enum:
        return getattr(obj, self.column.key)  # type: ignore[no-any-return]

    def can(self, obj: M, action: str, actor: Any) -> bool:
        move = self.moves.get(action)
        return (
            move is not None
            and self.status_of(obj) in move.sources
            and bool(move.allowed(obj, actor))
            and (self.guard is None or not self.guard(obj, action, actor))
        )

    def available(self, obj: M, actor: Any) -> list[str]:
        return [action for action in self.moves if self.can(obj, action, actor)]

    def apply(
        self,
        session: Session,
        obj: M,
        action: str,
        actor: Any = None,
        note: str = "",
        **changes: Any,
    ) -> StatusEvent:
        """Perform ``action`` on ``obj``; ``changes`` are other columns set in the same
        UPDATE. Raises ``InvalidTransition``, ``NotAllowed`` or ``ValidationFailed``."""
        move = self.moves.get(action)
        if move is None:
            raise InvalidTransition(_l("Unknown action."))
        current = self.status_of(obj)
        if current not in move.sources:
            raise InvalidTransition(self._wrong_state(current, action))
        if not move.allowed(obj, actor):
            raise NotAllowed(_l("You are not allowed to do that."))
        refusal = self.guard(obj, action, actor) if self.guard else None
        if refusal:
            raise NotAllowed(refusal)
        note = (note or "").strip()
        if move.note_required and not note:
            raise ValidationFailed(
                _l("Please give a reason."), errors={"note": [str(_l("A reason is required."))]}
            )
        if len(note) > NOTE_MAX:
            raise ValidationFailed(
                _l("The reason is too long."),
                errors={"note": [str(_l("At most 500 characters."))]},
            )
        mapper = inspect(self.model)
        (pk,) = mapper.primary_key
        ident = getattr(obj, pk.key)
        result = session.execute(
            update(self.model)  # type: ignore[arg-type]
            .where(pk == ident, self.column == current)
            .values({self.column.key: move.target, **changes})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.refresh(obj)
            raise InvalidTransition(
                _l(
                    "Someone else changed this a moment ago; it is now %(state)s.",
                    state=_label(self.status_of(obj)),
                )
            )
        record = StatusEvent(
            machine=self.name,
            subject_id=ident,
            action=action,
            from_status=current.value,
            to_status=move.target.value,
            actor_id=getattr(actor, "id", None),
            note=note,
        )
        session.add(record)
        _APPLYING.add(id(obj))
        try:
            session.flush()
            session.refresh(obj)
        finally:
            _APPLYING.discard(id(obj))
        events.emit(
            events.status_changed,
            self.name,
            session=session,
            obj=obj,
            event=record,
            machine=self.name,
        )
        return record

    def _wrong_state(self, current: enum.Enum, action: str) -> Any:
        if self.noun is not None and action in self.labels:
            return _l(
                "This %(thing)s is %(state)s; it cannot be changed by “%(action)s”.",
                thing=self.noun,
                state=_label(current),
                action=self.labels[action],
            )
        return _l("This cannot be done now: it is already %(state)s.", state=_label(current))

    def history(self, session: Session, obj: M) -> list[StatusEvent]:
        (pk,) = inspect(self.model).primary_key
        return list(
            session.scalars(
                select(StatusEvent)
                .where(
                    StatusEvent.machine == self.name, StatusEvent.subject_id == getattr(obj, pk.key)
                )
                .order_by(StatusEvent.id)
            )
        )


def _label(state: enum.Enum) -> str:
    from app.labels import label

    return label(state)


class StatusChangedOutsideMachine(RuntimeError):
    """A registered status column was assigned directly instead of through its machine."""


@orm_event.listens_for(Session, "before_flush")
def _refuse_direct_status_change(session: Session, flush_context: Any, instances: Any) -> None:
    """Fail any flush that changes a registered status column of a persistent object
    (the machine's own UPDATE does not go through the ORM attribute, so it passes)."""
    for obj in session.dirty:
        for machine in REGISTRY.values():
            if not isinstance(obj, machine.model) or id(obj) in _APPLYING:
                continue
            history = inspect(obj).attrs[machine.column.key].history
            if history.has_changes() and history.deleted:
                raise StatusChangedOutsideMachine(
                    f"{type(obj).__name__}.{machine.column.key} changed outside the "
                    f"{machine.name!r} state machine"
                )
