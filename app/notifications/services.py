"""Notifications: what to tell whom, in their language; and the email outbox.

``notify`` writes an in-site notification and an outbox email in the caller's transaction.
Delivery starts only once that transaction has committed (``run_after_commit``), and
outside the web request: an RQ job when ``REDIS_URL`` is set, else a daemon thread.
``deliver_pending`` works from its own session, claims one due email at a time, talks
SMTP and records the outcome; a failure is retried with back-off and never undoes the
change the email reports.

Privacy: messages carry the need's public title and a link, nothing from the household.
The log gets ids and counts only, never addresses or bodies.
"""

from __future__ import annotations

import enum
import logging
import re
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app, has_app_context, has_request_context
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.errors import NotFound
from app.extensions import SUPPORTED_LOCALES, db, run_after_commit
from app.models_base import utcnow
from app.needs.models import Need
from app.notifications.models import Notification, OutboxEmail, OutboxStatus
from app.urls import site_url

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger("app.notifications")

DEFAULT_SITE_URL = "http://127.0.0.1:5000"
RQ_QUEUE = "shanlian"  # the one queue every job goes on (supervision.tasks uses it too)
DELIVERY_THREAD_NAME = "outbox-delivery"
# A claimed email is left alone this long, so a worker that dies mid-send costs a late
# retry rather than a lost email, and no second worker sends it meanwhile.
CLAIM_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6
RETRY_CAP = timedelta(hours=4)
SMTP_TIMEOUT_SECONDS = 20


class Kind(enum.StrEnum):
    """What happened; stored in ``Notification.kind``."""

    CLAIMED = "claimed"  # to the caseworker: someone claimed their need
    CLAIM_ACCEPTED = "claim_accepted"  # to the claimer: the claim is theirs
    WITHDRAWN = "withdrawn"  # to the caseworker: the claimer gave the need back
    RELEASED = "released"  # to the claimer: their claim was released
    DELIVERED = "delivered"  # to the caseworker: please confirm the delivery
    CONFIRMED = "confirmed"  # to the claimer: delivery confirmed
    DISPUTED = "disputed"  # to the claimer: delivery not confirmed
    OVERDUE = "overdue"  # claim passed its delivery deadline
    EXPIRED = "expired"  # to the caseworker: the need expired unclaimed
    TURNED_RED = "turned_red"  # to the caseworker: the need's traffic light turned red
    SIGNUP = "signup"  # a team signed up for a shift
    DONATION_LOGGED = "donation_logged"  # to the caseworker: a donation in kind was logged
    DONATION_RECEIVED = "donation_received"  # to the donor: their donation arrived
    CASH_RECEIVED = "cash_received"  # to the donor: their cash donation was paid
    FULLY_FUNDED = "fully_funded"  # to the caseworker: buy and deliver now
    CASH_REFUNDED = "cash_refunded"  # to the donor: money given back
    HOUSEHOLD_LIGHT = "household_light"  # to the caseworker (and supervisors, red)
    APPLICATION_ACCEPTED = "application_accepted"  # to the agent
    APPLICATION_RETURNED = "application_returned"  # to the agent, with the reason
    OFFER_PAUSED = "offer_paused"  # to a provider: a lapsed permit paused an offer


@dataclass(frozen=True)
class _Message:
    subject: Any  # a lazy string, rendered in the recipient's language
    body: Any
    # For a message that can come without a need (a donation to a district's pool): never
    # an empty title in quotes.
    subject_without_need: Any = None
    body_without_need: Any = None


# English msgids; the zh catalog translates them. Only the need's public title goes in.
MESSAGES: dict[Kind, _Message] = {
    Kind.CLAIMED: _Message(
        _l('Your need "%(title)s" has been claimed'),
        _l('The need "%(title)s" has been claimed. You can follow its progress on its page.'),
    ),
    Kind.CLAIM_ACCEPTED: _Message(
        _l('You have claimed "%(title)s"'),
        _l(
            'Thank you for claiming "%(title)s". Please deliver it before the deadline '
            "shown on the need's page."
        ),
    ),
    Kind.WITHDRAWN: _Message(
        _l('The claim on "%(title)s" was withdrawn'),
        _l('The claimer withdrew from "%(title)s". The need is open for others to claim again.'),
    ),
    Kind.RELEASED: _Message(
        _l('Your claim on "%(title)s" was released'),
        _l('Your claim on "%(title)s" was released, so others can claim the need now.'),
    ),
    Kind.DELIVERED: _Message(
        _l('"%(title)s" was marked as delivered'),
        _l(
            'The claimer marked "%(title)s" as delivered. Please check with the household '
            "and confirm the delivery."
        ),
    ),
    Kind.CONFIRMED: _Message(
        _l('Your delivery for "%(title)s" was confirmed'),
        _l('The caseworker confirmed your delivery for "%(title)s". Thank you for your help!'),
    ),
    Kind.DISPUTED: _Message(
        _l('Your delivery for "%(title)s" could not be confirmed'),
        _l(
            'The caseworker could not confirm the delivery for "%(title)s", so the need is '
            "back with you. Please see the need's page."
        ),
    ),
    Kind.OVERDUE: _Message(
        _l('The claim on "%(title)s" is overdue'),
        _l('The claim on "%(title)s" passed its delivery deadline without a delivery.'),
    ),
    Kind.EXPIRED: _Message(
        _l('"%(title)s" has expired'),
        _l('"%(title)s" reached its deadline without being claimed and has expired.'),
    ),
    Kind.TURNED_RED: _Message(
        _l('The light of "%(title)s" turned red'),
        _l(
            'Nothing has moved on "%(title)s" for too long, so its light turned red. '
            "Please look into it."
        ),
    ),
    Kind.SIGNUP: _Message(
        _l('A team signed up for "%(title)s"'),
        _l('A volunteer team signed up for a shift on "%(title)s".'),
    ),
    Kind.DONATION_LOGGED: _Message(
        _l('A donation for "%(title)s" was logged'),
        _l(
            'A company logged a donation for "%(title)s". Please confirm once it has been received.'
        ),
    ),
    Kind.DONATION_RECEIVED: _Message(
        _l('Your donation for "%(title)s" was received'),
        _l('Your donation for "%(title)s" has been received. Thank you for your help!'),
        _l("Your donation of %(item)s was received"),
        _l(
            "Your donation of %(item)s to the district's pool has been received. The "
            "caseworkers will give it to households in need. Thank you!"
        ),
    ),
    Kind.CASH_RECEIVED: _Message(
        _l('Thank you for your gift to "%(title)s"'),
        _l('Your payment for "%(title)s" arrived. Your receipt is in your giving history.'),
    ),
    Kind.FULLY_FUNDED: _Message(
        _l('"%(title)s" is fully funded'),
        _l('Donors have fully funded "%(title)s". Please buy and deliver it, then confirm.'),
    ),
    Kind.CASH_REFUNDED: _Message(
        _l('Money refunded for "%(title)s"'),
        _l(
            'Part or all of your gift to "%(title)s" was refunded, because the need was '
            "already funded or was cancelled. See your giving history."
        ),
    ),
    # Household messages name the household by number only, never by name.
    Kind.HOUSEHOLD_LIGHT: _Message(
        _l("Household no. %(ref)s is now %(colour)s"),
        _l("The light of household no. %(ref)s turned %(colour)s: %(why)s. Open it: %(link)s"),
    ),
    Kind.APPLICATION_ACCEPTED: _Message(
        _l("Application no. %(ref)s was accepted"),
        _l("The caseworker accepted application no. %(ref)s and is preparing the help. %(link)s"),
    ),
    Kind.APPLICATION_RETURNED: _Message(
        _l("Application no. %(ref)s was returned"),
        _l(
            "The caseworker returned application no. %(ref)s: %(reason)s. Please correct it "
            "and send it again: %(link)s"
        ),
    ),
    Kind.OFFER_PAUSED: _Message(
        _l('Your offer "%(title)s" is paused'),
        _l(
            'Your offer "%(title)s" is paused because your business licence or food-hygiene '
            "permit has expired. Enter the renewed dates on your offers page; the offer "
            "resumes once an admin has checked them."
        ),
    ),
}


# --- writing ------------------------------------------------------------------------------


def notify(
    session: Session, user: User, kind: Kind | str, need: Need | None = None, **params: object
) -> Notification:
    """Tell ``user`` that ``kind`` happened (to ``need``), on the site and by email.

    Both rows are written in the caller's transaction; the email leaves only after it
    commits. ``params`` fill extra ``%(name)s`` placeholders. Needs an app context.
    """
    kind = Kind(kind)  # ValueError for a kind nobody wrote a message for
    subject, text, email_body = _render(user, kind, need, params)
    notification = Notification(
        user_id=user.id,
        kind=kind.value,
        need_id=need.id if need is not None else None,
        subject=subject,
        body=text,
    )
    session.add(notification)
    session.flush()
    if user.email:
        with force_locale(_locale_of(user)):
            email_subject = f"[{gettext('Shanlian')}] {subject}"
        session.add(
            OutboxEmail(
                notification_id=notification.id,
                to_address=user.email,
                subject=email_subject[:200],
                body=email_body,
            )
        )
        session.flush()
        # Once per transaction: one delivery run sends every email it wrote. The list is
        # run_after_commit's own, emptied on commit and rollback.
        if schedule_delivery not in session.info.get("after_commit", ()):
            run_after_commit(session, schedule_delivery)
    return notification


def _locale_of(user: User) -> str:
    return user.locale if user.locale in SUPPORTED_LOCALES else "zh"


def _one_line(value: str) -> str:
    """Header-safe: a title with a line break must not become a second header."""
    return re.sub(r"\s+", " ", value).strip()


def _render(
    user: User, kind: Kind, need: Need | None, params: dict[str, object]
) -> tuple[str, str, str]:
    """(subject, text for the site, email body), in the recipient's language."""
    values: dict[str, object] = {"title": need.title if need is not None else "", **params}
    message = MESSAGES[kind]
    subject_text, body_text = message.subject, message.body
    if need is None and message.subject_without_need is not None:
        subject_text, body_text = message.subject_without_need, message.body_without_need
    with force_locale(_locale_of(user)):
        subject = _one_line(str(subject_text) % values)[:200]
        text = str(body_text) % values
        parts = [gettext("Hello %(name)s,", name=user.display_name), text]
        if need is not None:
            parts.append(need_link(user, need))
        parts.append(
            "-- \n"
            + gettext(
                "This message was sent by Shanlian because you have an account there. "
                "You can read all your notifications on the site."
            )
        )
    return subject, text, "\n\n".join(parts) + "\n"


def need_endpoint(user: User) -> str:
    """The need page that is useful to this person: caseworkers and verifiers work from
    their desk, everyone else sees the public page."""
    return "work.need" if user.has_role(Role.CASEWORKER, Role.VERIFIER) else "needs.need_detail"


def need_link(user: User, need: Need) -> str:
    """An absolute link to the need, also outside requests (the CLI sweep).

    Built from ``SITE_URL`` and never from the request's Host header: a forged Host must
    not put someone else's domain into a genuine email.
    """
    endpoint = "work.need" if need.can_view_private(user) else "needs.need_detail"
    return site_url(endpoint, need_id=need.id)


# --- reading ------------------------------------------------------------------------------


def unread_count(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def recent_for(session: Session, user: User, limit: int = 50) -> list[Notification]:
    """The person's latest notifications, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of the person's own notifications read; anyone else's is ``NotFound``."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(_l("Not found."))
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return notification


def mark_all_read(session: Session, user: User) -> int:
    """Mark every unread notification of the person read; returns how many."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return cast(CursorResult[Any], result).rowcount


# --- scheduling delivery ------------------------------------------------------------------


def schedule_delivery() -> None:
    """Start delivering the outbox (runs after a commit that wrote emails). Never raises:
    the transaction is already committed, and an email that cannot start now waits in
    the outbox for the next run."""
    try:
        if not has_app_context():
            logger.warning("outbox: no app context after commit; emails wait for the next run")
            return
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        config = app.config
        if not config.get("MAIL_SERVER"):
            return  # nowhere to send to: emails wait in the outbox
        if config.get("MAIL_DELIVER_INLINE"):
            deliver_pending()
        elif config.get("REDIS_URL"):
            _queue(config["REDIS_URL"]).enqueue(deliver_pending_job)
        elif not has_request_context():
            deliver_pending()  # a CLI command or a job: nobody is waiting on a page
        else:
            # The web request answers now; a slow SMTP server only delays this thread.
            threading.Thread(
                target=_deliver_in_thread, args=(app,), name=DELIVERY_THREAD_NAME, daemon=True
            ).start()
    except Exception as exc:  # a committed change must not look failed
        logger.error("outbox: could not start delivery: %s", type(exc).__name__)


def _deliver_in_thread(app: Flask) -> None:
    with app.app_context():
        deliver_pending()


@cache
def _redis(url: str) -> Redis:
    from redis import Redis

    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)


def _queue(redis_url: str) -> Any:
    from rq import Queue

    return Queue(RQ_QUEUE, connection=_redis(redis_url))


def deliver_pending_job() -> int:
    """RQ job: send everything due, then schedule a run for the next retry, if any."""
    if not has_app_context():  # a plain ``rq worker``; ``flask worker`` has a context
        from app import create_app

        with create_app().app_context():
            return deliver_pending_job()
    sent = deliver_all_due()
    try:
        _schedule_next_retry()
    except Exception as exc:  # the next commit or ``outbox deliver`` retries
        logger.error("outbox: could not schedule the next retry: %s", type(exc).__name__)
    return sent


def _schedule_next_retry() -> None:
    config = current_app.config
    if not (config.get("MAIL_SERVER") and config.get("REDIS_URL")):
        return
    with db.session_factory() as session:
        earliest = session.scalar(
            select(func.min(OutboxEmail.next_attempt_at)).where(
                OutboxEmail.status == OutboxStatus.PENDING
            )
        )
    if earliest is None:
        return
    when = max(earliest, utcnow() + timedelta(minutes=1))
    # One id per minute: runs that agree on the next retry schedule it once, not each.
    job_id = f"outbox-retry-{when:%Y%m%d%H%M}"
    _queue(config["REDIS_URL"]).enqueue_at(when, deliver_pending_job, job_id=job_id)


# --- delivery -----------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the ``attempts``-th failure: 1, 5, 25, 125 minutes, then 4 hours."""
    return min(timedelta(minutes=5 ** max(attempts - 1, 0)), RETRY_CAP)


def deliver_all_due(limit: int = 50) -> int:
    """Run ``deliver_pending`` until a run sends nothing; returns the number sent."""
    total = 0
    while (sent := deliver_pending(limit)) > 0:
        total += sent
    return total


def deliver_pending(limit: int = 50) -> int:
    """Send up to ``limit`` due outbox emails; returns how many were sent.

    Uses its own session (never the request's) and commits it. Never raises: a failed
    email is retried with back-off and marked FAILED after ``MAX_ATTEMPTS``. With no
    ``MAIL_SERVER`` configured it does nothing and the emails wait.
    """
    if not has_app_context():
        logger.error("outbox: deliver_pending needs an app context")
        return 0
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return 0
    sent = failed = 0
    session = db.session_factory()
    smtp = _SmtpConnection(
        config["MAIL_SERVER"],
        int(config["MAIL_PORT"]),
        username=str(config.get("MAIL_USERNAME") or ""),
        password=str(config.get("MAIL_PASSWORD") or ""),
        starttls=bool(config.get("MAIL_USE_TLS")),
    )
    sender = str(config.get("MAIL_FROM") or "")
    try:
        for _ in range(limit):
            email = _claim_next_due(session)
            if email is None:
                break
            try:
                smtp.send(_build_message(email, sender))
            except Exception as exc:  # every failure is recorded and retried
                failed += 1
                _record_failure(email, exc)
                session.commit()
                if _server_unreachable(exc):
                    break  # the rest keep their turn rather than each waiting for a timeout
                continue
            email.status = OutboxStatus.SENT
            email.sent_at = utcnow()
            email.last_error = ""
            session.commit()
            sent += 1
            logger.info("outbox email %s sent", email.id)
    except Exception as exc:  # a database failure; claimed rows come back
        session.rollback()
        logger.error("outbox: delivery stopped: %s", type(exc).__name__)
    finally:
        smtp.close()
        session.close()
    if sent or failed:
        logger.info("outbox: %d sent, %d failed", sent, failed)
    return sent


def _claim_next_due(session: Session) -> OutboxEmail | None:
    """Take the oldest due email: count the attempt and lease it, in a committed step of its
    own, so that concurrent workers (SKIP LOCKED on PostgreSQL) never send it twice."""
    now = utcnow()
    due = (OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.next_attempt_at <= now)
    email_id = session.scalar(
        select(OutboxEmail.id)
        .where(*due)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if email_id is None:
        session.commit()
        return None
    result = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == email_id, *due)
        .values(attempts=OutboxEmail.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if cast(CursorResult[Any], result).rowcount != 1:
        return None  # another worker took it between the two statements
    return session.get(OutboxEmail, email_id)


def _record_failure(email: OutboxEmail, exc: Exception) -> None:
    # The type and the server's reply only: no body, nothing the email was about.
    email.last_error = _one_line(f"{type(exc).__name__}: {exc}")[:200]
    if email.attempts >= MAX_ATTEMPTS:
        email.status = OutboxStatus.FAILED
        logger.warning(
            "outbox email %s failed for good after %d attempts", email.id, email.attempts
        )
    else:
        email.next_attempt_at = utcnow() + retry_delay(email.attempts)
        logger.warning(
            "outbox email %s failed (attempt %d): %s",
            email.id,
            email.attempts,
            type(exc).__name__,
        )


def _server_unreachable(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    # Refused or timed-out connections; SMTPException is an OSError too, but a refused
    # recipient or message leaves the connection usable.
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def _build_message(email: OutboxEmail, sender: str) -> EmailMessage:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()  # policy.default: non-ASCII headers become RFC 2047 words
    message["From"] = sender
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(utcnow())
    # Stable across retries, so a mail client can drop a duplicate after a lost reply.
    message["Message-ID"] = f"<outbox.{email.id}.{_stamp(email.created_at)}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    # base64 keeps Chinese text intact through servers without 8BITMIME.
    message.set_content(email.body, charset="utf-8", cte="base64")
    return message


def _stamp(moment: datetime | None) -> str:
    return f"{moment:%Y%m%d%H%M%S}" if moment is not None else "0"


class _SmtpConnection:
    """One SMTP connection per delivery run, opened at the first email."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str = "",
        password: str = "",
        starttls: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            self._smtp = smtp
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self._smtp = None
            raise

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()
        self._smtp = None
