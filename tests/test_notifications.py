"""Notifications and the email outbox, against a real SMTP server on localhost.

The emails go out only after the transaction commits, one per notification, in the
recipient's language, with nothing from the household in them; an SMTP outage costs a
retry, never the change being reported.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from app.accounts.models import User
from app.models_base import utcnow
from app.needs import lifecycle
from app.needs.models import Need, NeedState
from app.notifications import cli, services
from app.notifications.models import Notification, OutboxEmail, OutboxStatus
from app.notifications.services import MAX_ATTEMPTS, Kind, deliver_pending, notify
from tests.conftest import _free_port
from tests.factories import MicroWishFactory, UserFactory, need_in_state


@pytest.fixture
def smtp_down(app, smtp, monkeypatch):
    """Nothing listens on the configured port (the server is up again once the test
    points MAIL_PORT back at ``smtp.port``)."""
    monkeypatch.setitem(app.config, "MAIL_PORT", _free_port())
    return smtp


def outbox_of(session, user) -> list[OutboxEmail]:
    session.expire_all()
    return list(
        session.scalars(
            select(OutboxEmail).where(OutboxEmail.to_address == user.email).order_by(OutboxEmail.id)
        )
    )


def wait_for_delivery_threads(timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name == services.DELIVERY_THREAD_NAME:
            thread.join(max(0.0, deadline - time.monotonic()))
            assert not thread.is_alive(), "delivery thread did not finish"


# --- one email per committed notification ------------------------------------------------


def test_committed_notification_sends_one_email_in_chinese(session, smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="app.notifications")
    user = UserFactory(locale="zh")
    need = MicroWishFactory(title="给独居老人送一台电饭煲")
    household = need.household
    session.commit()

    notification = notify(session, user, Kind.CLAIM_ACCEPTED, need)
    assert smtp.messages == []  # nothing leaves before the commit
    session.commit()

    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.rcpt_tos == [user.email]
    assert received.mail_from == "noreply@shanlian.example"
    # Chinese in the subject travels as RFC 2047 encoded words and decodes intact.
    raw_subject = next(
        line for line in received.raw.decode("ascii").splitlines() if line.startswith("Subject:")
    )
    assert "=?utf-8?" in raw_subject.lower()
    assert received.subject.startswith("[善联] ")
    assert "给独居老人送一台电饭煲" in received.subject
    assert received.message["Message-ID"] and received.message["Date"]
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content_charset() == "utf-8"
    assert "给独居老人送一台电饭煲" in received.body
    assert f"https://shanlian.example/needs/{need.id}" in received.body

    # Nothing from the household: not in the email, the notification, or the log.
    private = [household.name, household.phone, household.id_number, household.address]
    for secret in private:
        assert secret not in received.raw.decode("ascii")
        assert secret not in received.subject and secret not in received.body
        assert secret not in notification.subject and secret not in notification.body
        assert secret not in caplog.text
    assert user.email not in caplog.text
    assert "电饭煲" not in caplog.text  # no subjects or bodies in the log either

    [row] = outbox_of(session, user)
    assert row.status is OutboxStatus.SENT and row.sent_at is not None
    assert row.notification_id == notification.id


def test_english_speaker_gets_english(session, smtp):
    user = UserFactory(locale="en", display_name="Alex")
    need = MicroWishFactory(title="A rice cooker")
    session.commit()

    notification = notify(session, user, Kind.CONFIRMED, need)
    session.commit()

    [received] = smtp.messages
    assert received.subject == '[Shanlian] Your delivery for "A rice cooker" was confirmed'
    assert notification.subject == 'Your delivery for "A rice cooker" was confirmed'
    assert received.body.startswith("Hello Alex,")
    assert "A rice cooker" in received.body


def test_the_senders_language_does_not_leak_into_the_email(app, session, smtp):
    """Written while someone browses in English, a zh user's email is still Chinese."""
    zh_user, en_user = UserFactory(locale="zh"), UserFactory(locale="en")
    need = MicroWishFactory()
    session.commit()
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        notify(session, zh_user, Kind.DELIVERED, need)
        notify(session, en_user, Kind.DELIVERED, need)
        session.commit()
    by_recipient = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert by_recipient[zh_user.email].subject.startswith("[善联]")
    assert by_recipient[en_user.email].subject.startswith("[Shanlian]")


# Messages about a household or an application, by number: their placeholders.
NOT_ABOUT_A_NEED = {
    Kind.HOUSEHOLD_LIGHT: {"ref": 7, "colour": "红灯", "why": "探访逾期", "link": "L"},
    Kind.APPLICATION_ACCEPTED: {"ref": 7, "link": "L"},
    Kind.APPLICATION_RETURNED: {"ref": 7, "reason": "R", "link": "L"},
}


@pytest.mark.parametrize("kind", [k for k in Kind if k not in NOT_ABOUT_A_NEED])
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_kind_has_a_message_with_the_title(session, no_mail, kind, locale):
    user = UserFactory(locale=locale)
    need = MicroWishFactory(title="标题ABC")
    notification = notify(session, user, kind, need)
    [row] = outbox_of(session, user)
    assert notification.kind == kind.value
    for text in (notification.subject, notification.body, row.subject, row.body):
        assert "标题ABC" in text
        assert "%(" not in text


@pytest.mark.parametrize("kind", list(NOT_ABOUT_A_NEED))
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_household_and_application_messages_fill_every_placeholder(session, no_mail, kind, locale):
    user = UserFactory(locale=locale)
    notification = notify(session, user, kind, **NOT_ABOUT_A_NEED[kind])
    [row] = outbox_of(session, user)
    for text in (notification.subject, notification.body, row.subject, row.body):
        assert "7" in text and "%(" not in text


def test_links_lead_to_the_page_each_person_uses(app, session, no_mail, monkeypatch):
    monkeypatch.setitem(app.config, "SITE_URL", "https://shanlian.example/")
    need = MicroWishFactory()
    caseworker = session.get(User, need.created_by_id)
    donor = UserFactory()
    notify(session, caseworker, Kind.CLAIMED, need)
    notify(session, donor, Kind.CLAIM_ACCEPTED, need)
    [to_caseworker] = outbox_of(session, caseworker)
    [to_donor] = outbox_of(session, donor)
    assert f"https://shanlian.example/work/needs/{need.id}\n" in to_caseworker.body
    assert f"https://shanlian.example/needs/{need.id}\n" in to_donor.body


def test_unknown_kind_is_refused(session, no_mail):
    with pytest.raises(ValueError):
        notify(session, UserFactory(), "bogus", MicroWishFactory())


def test_a_line_break_in_a_title_cannot_forge_a_header(session, smtp):
    user = UserFactory(locale="en")
    need = MicroWishFactory(title="Rice\r\nBcc: victim@evil.example")
    session.commit()
    notify(session, user, Kind.CLAIMED, need)
    session.commit()
    [received] = smtp.messages
    assert received.rcpt_tos == [user.email]
    assert received.message["Bcc"] is None


def test_delivery_is_scheduled_once_per_transaction(session, smtp, monkeypatch):
    calls = []
    original = services.deliver_pending

    def counting(limit: int = 50) -> int:
        calls.append(limit)
        return original(limit)

    monkeypatch.setattr(services, "deliver_pending", counting)
    first, second = UserFactory(), UserFactory()
    need = MicroWishFactory()
    session.commit()

    notify(session, first, Kind.CLAIMED, need)
    notify(session, second, Kind.CLAIM_ACCEPTED, need)
    notify(session, first, Kind.DELIVERED, need)
    session.commit()
    assert len(calls) == 1
    assert len(smtp.messages) == 3

    notify(session, second, Kind.CONFIRMED, need)  # the next transaction schedules again
    session.commit()
    assert len(calls) == 2
    assert len(smtp.messages) == 4


# --- rollback sends nothing --------------------------------------------------------------


def test_rolled_back_transaction_sends_nothing(session, smtp):
    user = UserFactory()
    need = MicroWishFactory()
    session.commit()

    notify(session, user, Kind.CLAIMED, need)
    session.rollback()
    session.commit()  # a later commit must not deliver what was rolled back

    assert smtp.messages == []
    assert outbox_of(session, user) == []
    assert session.scalars(select(Notification).where(Notification.user_id == user.id)).all() == []


def test_rolled_back_savepoint_sends_nothing(session, smtp):
    user = UserFactory()
    need = MicroWishFactory()
    session.commit()

    nested = session.begin_nested()
    notify(session, user, Kind.CLAIMED, need)
    nested.rollback()
    session.commit()

    assert smtp.messages == []
    assert outbox_of(session, user) == []


# --- SMTP down: retry with back-off, never undo the change -------------------------------


def test_smtp_down_keeps_the_change_and_retries_later(app, session, smtp_down, monkeypatch):
    donor = UserFactory()
    need = need_in_state(NeedState.PUBLISHED)
    session.commit()

    lifecycle.transition(session, need, "claim", donor, claimant_id=donor.id)
    notify(session, donor, Kind.CLAIM_ACCEPTED, need)
    session.commit()  # the SMTP failure must not surface here

    session.rollback()  # would undo the claim had it not been committed
    assert session.get(Need, need.id).state is NeedState.CLAIMED
    [row] = outbox_of(session, donor)
    assert row.status is OutboxStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at > utcnow()
    assert row.last_error and row.body not in row.last_error

    # The server is back, but the retry is not due yet.
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_down.port)
    session.commit()
    assert deliver_pending() == 0
    assert smtp_down.messages == []

    # Time moves on: the retry sends it, once.
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert deliver_pending() == 1
    assert deliver_pending() == 0
    assert len(smtp_down.messages) == 1
    assert smtp_down.messages[0].rcpt_tos == [donor.email]
    [row] = outbox_of(session, donor)
    assert row.status is OutboxStatus.SENT and row.sent_at is not None


def test_gives_up_after_the_last_attempt_with_growing_back_off(
    app, session, smtp_down, monkeypatch
):
    user = UserFactory()
    notify(session, user, Kind.EXPIRED, MicroWishFactory())
    session.commit()
    [row] = outbox_of(session, user)
    assert row.attempts == 1

    delays = []
    for attempt in range(2, MAX_ATTEMPTS + 1):
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()
        started = utcnow()
        assert deliver_pending() == 0  # never raises
        [row] = outbox_of(session, user)
        assert row.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert row.status is OutboxStatus.PENDING
            delays.append(row.next_attempt_at - started)
    assert row.status is OutboxStatus.FAILED
    assert delays == sorted(delays) and delays[0] < delays[-1]
    assert delays[0] >= timedelta(minutes=5) - timedelta(seconds=5)  # after the 2nd failure

    # FAILED is final, even with the server back.
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_down.port)
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert deliver_pending() == 0
    assert smtp_down.messages == []


def test_retry_delays():
    assert [services.retry_delay(n) for n in range(1, 6)] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=25),
        timedelta(minutes=125),
        timedelta(hours=4),
    ]


def test_without_mail_server_emails_wait_in_the_outbox(session, no_mail):
    user = UserFactory()
    notify(session, user, Kind.CLAIMED, MicroWishFactory())
    session.commit()
    assert deliver_pending() == 0
    [row] = outbox_of(session, user)
    assert row.status is OutboxStatus.PENDING and row.attempts == 0


# --- delivery off the request path ------------------------------------------------------


def test_slow_smtp_server_does_not_hold_up_the_request(app, session, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_DELIVER_INLINE", False)
    smtp.delay = 1.5
    user = UserFactory()
    need = MicroWishFactory()
    session.commit()

    with app.test_request_context("/"):
        notify(session, user, Kind.CLAIMED, need)
        started = time.monotonic()
        session.commit()
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, "the commit waited for the SMTP server"
    wait_for_delivery_threads()  # the thread shares the test's connection: wait first

    assert len(smtp.messages) == 1
    [row] = outbox_of(session, user)
    assert row.status is OutboxStatus.SENT


def test_redis_down_neither_fails_the_commit_nor_loses_the_email(
    app, session, smtp, monkeypatch, caplog
):
    monkeypatch.setitem(app.config, "MAIL_DELIVER_INLINE", False)
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{_free_port()}/0")
    user = UserFactory()
    need = need_in_state(NeedState.PUBLISHED)
    session.commit()

    with app.test_request_context("/"):
        lifecycle.transition(session, need, "claim", user, claimant_id=user.id)
        notify(session, user, Kind.CLAIM_ACCEPTED, need)
        session.commit()

    session.rollback()
    assert session.get(Need, need.id).state is NeedState.CLAIMED
    [row] = outbox_of(session, user)
    assert row.status is OutboxStatus.PENDING and row.attempts == 0
    assert "could not start delivery" in caplog.text
    # A later run (``flask outbox deliver``) sends it.
    session.commit()
    assert services.deliver_all_due() == 1
    assert [m.rcpt_tos for m in smtp.messages] == [[user.email]]


# --- the command line --------------------------------------------------------------------


def test_outbox_deliver_command_sends_everything_due(app, session, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")  # written while mail was off
    users = [UserFactory() for _ in range(3)]
    need = MicroWishFactory()
    for user in users:
        notify(session, user, Kind.SIGNUP, need)
    session.commit()
    assert smtp.messages == []

    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    result = app.test_cli_runner().invoke(cli.outbox_cli, ["deliver", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "3 email(s) sent" in result.output
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(u.email for u in users)


def test_worker_command_needs_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    result = app.test_cli_runner().invoke(cli.worker, [])
    assert result.exit_code != 0
    assert "REDIS_URL" in result.output


# --- the notifications page -------------------------------------------------------------


def test_page_lists_own_notifications_only(client, auth, session, no_mail):
    me, other = UserFactory(locale="en"), UserFactory(locale="en")
    mine = notify(session, me, Kind.CONFIRMED, MicroWishFactory(title="My rice cooker"))
    read = notify(session, me, Kind.CLAIM_ACCEPTED, MicroWishFactory(title="Old one"))
    read.read_at = utcnow()
    theirs = notify(session, other, Kind.EXPIRED, MicroWishFactory(title="Somebody else"))
    session.commit()

    auth.login(me)
    response = client.get("/notifications")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert str(escape(mine.subject)) in html
    assert str(escape(read.subject)) in html
    assert "Somebody else" not in html
    assert f'id="notification-{theirs.id}"' not in html
    # Newest first, and only the unread one is highlighted.
    assert html.index("Old one") < html.index("My rice cooker")
    assert f'class="card notice unread" id="notification-{mine.id}"' in html
    assert f'class="card" id="notification-{read.id}"' in html


def test_marking_read(client, auth, session, no_mail):
    me, other = UserFactory(), UserFactory()
    need = MicroWishFactory()
    first = notify(session, me, Kind.CLAIMED, need)
    second = notify(session, me, Kind.DELIVERED, need)
    theirs = notify(session, other, Kind.CLAIMED, need)
    session.commit()
    auth.login(me)

    assert client.post(f"/notifications/{theirs.id}/read").status_code == 404
    assert client.post("/notifications/999999/read").status_code == 404
    assert session.get(Notification, theirs.id).read_at is None

    assert client.post(f"/notifications/{first.id}/read").status_code == 302
    assert session.get(Notification, first.id).read_at is not None
    assert services.unread_count(session, me) == 1

    assert client.post("/notifications/read-all").status_code == 302
    session.expire_all()
    assert session.get(Notification, second.id).read_at is not None
    assert services.unread_count(session, me) == 0
    assert session.get(Notification, theirs.id).read_at is None


def test_mark_read_service_refuses_someone_elses(session, no_mail):
    from app.errors import NotFound

    me, other = UserFactory(), UserFactory()
    theirs = notify(session, other, Kind.CLAIMED, MicroWishFactory())
    with pytest.raises(NotFound):
        services.mark_read(session, me, theirs.id)


def test_page_needs_sign_in(client):
    response = client.get("/notifications")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
