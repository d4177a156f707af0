"""Domain events: the moments other domains react to, declared once.

A service that changes state sends a signal; lights, points, notifications, the search
index and anything added later subscribe where they live (a ``handlers`` module in their
own package, connected by :func:`connect_handlers` at app start). The sender imports none of
them. Handlers run inside the sender's transaction: what they write commits or rolls back
with the change; anything that leaves the process goes through :mod:`app.outbox`.

Every signal is sent with the session as ``sender``-independent keyword ``session`` and the
domain object; see each signal's docstring for its keywords.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from blinker import Namespace

_signals = Namespace()

#: Any status change made through :mod:`app.statemachine`. Keywords: ``session``, ``obj``,
#: ``event`` (the :class:`~app.statemachine.StatusEvent`), ``machine`` (its name).
status_changed = _signals.signal(
    "status-changed", doc="A status changed through its machine's transition table."
)
#: A need moved through its lifecycle. Keywords: ``session``, ``need``, ``event`` (the
#: :class:`~app.needs.models.NeedEvent`, whose ``action`` says which move), ``actor``,
#: ``was_public``.
need_transitioned = _signals.signal("need-transitioned", doc="A need changed state.")
#: A claim was made or changed status (``action``: ``claim`` or ``fund`` when it was
#: made, then the claim machine's moves). Keywords: ``session``, ``claim``, ``action``,
#: ``actor`` (None: the system), ``reason``.
claim_transitioned = _signals.signal("claim-transitioned", doc="A claim changed status.")
#: Volunteer hours were confirmed. Keywords: ``session``, ``signup``, ``actor``.
hours_confirmed = _signals.signal("hours-confirmed", doc="Volunteer hours confirmed.")
#: An in-kind donation arrived. Keywords: ``session``, ``donation``, ``actor``.
donation_received = _signals.signal("donation-received", doc="An in-kind donation arrived.")
#: A cash payment succeeded. Keywords: ``session``, ``cash``.
payment_succeeded = _signals.signal("payment-succeeded", doc="A cash payment succeeded.")
#: The help a need got was confirmed (a claim confirmed, or farm work with its hours),
#: after the claim and sign-ups were marked. Keywords: ``session``, ``need``,
#: ``need_event`` (the confirm ``NeedEvent``), ``was_red`` (before the confirmation),
#: ``actor``.
help_confirmed = _signals.signal("help-confirmed", doc="A need's help was confirmed.")
#: Activity on a need without a state change (a sign-up, an acceptance, a check-in, a
#: follow-up visit). Keywords: ``session``, ``need``.
need_touched = _signals.signal("need-touched", doc="Something happened on a need.")
#: A need was written or edited by its caseworker. Keywords: ``session``, ``need``,
#: ``was_public``.
need_edited = _signals.signal("need-edited", doc="A need was created or edited.")
#: Team members were booked on a shift. Keywords: ``session``, ``shift``, ``signups``,
#: ``actor`` (who booked), ``leader`` (who answers for the team).
shift_booked = _signals.signal("shift-booked", doc="Places on a shift were booked.")
#: A company logged an in-kind donation. Keywords: ``session``, ``donation``.
donation_logged = _signals.signal("donation-logged", doc="An in-kind donation was logged.")
#: Money went back to a donor. Keywords: ``session``, ``cash``.
refund_sent = _signals.signal("refund-sent", doc="A refund reached the donor.")
#: A need's light turned red in the sweep. Keywords: ``session``, ``need``.
light_turned_red = _signals.signal("light-turned-red", doc="A need's light turned red.")

#: Asked before a need is claimed in kind (and to decide whether to offer the claim form).
#: Keywords: ``session``, ``need``. A receiver returns a reason to refuse, or None.
claim_requested = _signals.signal("claim-requested", doc="May this need be claimed in kind?")
#: A caseworker or agent logged a visit to a household. Keywords: ``session``, ``visit``.
visit_logged = _signals.signal("visit-logged", doc="A visit to a household was logged.")
#: The sweep turned a household's light. Keywords: ``session``, ``household``, ``old``,
#: ``new`` (both :class:`~app.needs.models.Light`).
household_light_changed = _signals.signal(
    "household-light-changed", doc="A household's light changed colour."
)
#: Offers: a pickup was booked. Keywords: ``session``, ``booking``, ``actor``.
booking_made = _signals.signal("booking-made", doc="A pickup code was booked.")
#: Offers: a provider redeemed a pickup code, so the help really happened (points follow).
#: Keywords: ``session``, ``booking``, ``offer``, ``actor``.
pickup_redeemed = _signals.signal("pickup-redeemed", doc="A pickup code was redeemed.")
#: Offers: the sweep paused an offer because a licence or hygiene permit lapsed.
#: Keywords: ``session``, ``offer``.
offer_paused = _signals.signal("offer-paused", doc="An offer paused for a lapsed permit.")
#: The periodic sweep is running: domains do their own periodic work here instead of the
#: sweep importing them. Keywords: ``session``, ``now``. A receiver returns a short report
#: line (or None) that the sweep logs.
sweep_running = _signals.signal("sweep-running", doc="The periodic sweep runs.")

_HANDLER_MODULE = "handlers"


def emit(signal: Any, sender: object = None, **kwargs: Any) -> list[Any]:
    """Send ``signal``; one call site so that tests and logs have one place to watch.
    Returns what the receivers returned."""
    return [result for _receiver, result in signal.send(sender, **kwargs)]


def connect_handlers() -> list[str]:
    """Import ``app.<domain>.handlers`` for every domain that has one (idempotent).

    Handlers connect themselves with ``@signal.connect`` at import; Python imports a module
    once, so calling this for every app built in a test run connects each handler once.
    """
    import app

    connected = []
    for info in pkgutil.iter_modules(app.__path__):
        if not info.ispkg:
            continue
        name = f"app.{info.name}.{_HANDLER_MODULE}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        connected.append(name)
    return connected
