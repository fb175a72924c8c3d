"""Inbox services: the deadline, adding messages, assign, pass on, respond, close, and their audit trail."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.template import Context, Template
from django.utils import timezone

from fig_safety.times import LONDON
from social.inbox import services
from social.inbox.meta import Event
from social.inbox.services import InboxError
from social.models import Conversation, Message, policy_due_at
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import frozen

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _elapsed(start: datetime, end: datetime) -> timedelta:
    # In UTC: Python subtracts two datetimes that share a tzinfo on the wall clock, hiding the clock change.
    return end.astimezone(UTC) - start.astimezone(UTC)


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def other_admin(db):
    return factories.staff_user("social_admin", email="other-admin@example.org")


def _message(received_at: datetime | None = None, **fields) -> Conversation:
    return factories.make_conversation(received_at=received_at or timezone.now() - HOUR, **fields)


@pytest.fixture
def message(db):
    return _message()


def _audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --- the deadline ---------------------------------------------------------------------------------


def test_the_deadline_across_the_october_clock_change_is_169_hours_and_10am_on_londons_clock():
    received = datetime(2026, 10, 20, 10, 0, tzinfo=LONDON)  # BST; the clocks go back on 25 October
    due = policy_due_at(received)
    assert due == datetime(2026, 10, 27, 10, 0, tzinfo=LONDON)
    assert _elapsed(received, due) == timedelta(hours=169)
    assert due.astimezone(LONDON).tzname() == "GMT"


def test_the_deadline_across_the_march_clock_change_is_167_hours_and_10am_on_londons_clock():
    received = datetime(2026, 3, 25, 10, 0, tzinfo=LONDON)  # GMT; the clocks go forward on 29 March
    due = policy_due_at(received)
    assert due == datetime(2026, 4, 1, 10, 0, tzinfo=LONDON)
    assert _elapsed(received, due) == timedelta(hours=167)
    assert due.astimezone(LONDON).tzname() == "BST"


def test_the_deadline_in_an_ordinary_week_is_168_hours_whatever_zone_the_timestamp_is_in():
    received = datetime(2026, 6, 10, 22, 30, tzinfo=UTC)  # 23:30 in London
    due = policy_due_at(received)
    assert _elapsed(received, due) == timedelta(hours=168)
    assert due.astimezone(LONDON).replace(tzinfo=None) == datetime(2026, 6, 17, 23, 30)


@pytest.mark.parametrize(
    "received",
    [
        datetime(2026, 3, 22, 1, 30, tzinfo=LONDON),  # a week later 01:30 does not exist in London
        datetime(2026, 10, 18, 1, 30, tzinfo=LONDON),
    ],  # a week later 01:30 happens twice
    ids=["into-the-spring-gap", "into-the-autumn-repeat"],
)
def test_a_deadline_landing_on_a_missing_or_repeated_hour_is_still_a_week_later(received):
    assert _elapsed(received, policy_due_at(received)) == timedelta(hours=168)


def test_the_deadline_is_shown_on_londons_clock(settings):
    assert settings.TIME_ZONE == "Europe/London"
    due = policy_due_at(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))  # 10:00 BST
    shown = Template('{{ due|date:"j M Y H:i T" }}').render(Context({"due": due}))
    assert shown == "27 Oct 2026 10:00 GMT"
    assert timezone.localtime(due).hour == 10


def test_an_ingested_message_is_due_a_week_after_the_platforms_own_time():
    sent = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    event = Event(
        platform="messenger",
        kind="message",
        action="add",
        platform_id="m_1",
        person_id="1",
        person_name="",
        text="hi",
        at=sent,
    )
    message = services.event_ingest(event)
    assert message is not None and (message.platform_id, message.at, message.text) == ("m_1", sent, "hi")
    conversation = message.conversation
    assert conversation.received_at == sent and conversation.status == Conversation.Status.OPEN
    assert conversation.due_at == datetime(2026, 10, 27, 10, 0, tzinfo=UTC)

    assert services.event_ingest(event) is None  # a redelivery: nothing new
    assert Conversation.objects.count() == 1 and Message.objects.count() == 1


# --- messages received another way ------------------------------------------------------------


def test_an_administrator_adds_a_phone_message_with_the_time_it_came_in(admin):
    received = timezone.now() - timedelta(days=2)
    message = services.message_add_manual(
        platform="phone",
        kind="message",
        sender_name="A grandparent",
        text="Rang about the summer trip",
        received_at=received,
        by=admin,
    )
    assert (message.platform, message.added_by, message.received_at) == ("phone", admin, received)
    assert message.due_at == policy_due_at(received)
    assert message.thread is None  # typed in: no platform thread for a later message to join
    [item] = message.messages.all()
    assert (item.platform_id, item.event, item.text, item.at) == (
        None,
        "message",
        "Rang about the summer trip",
        received,
    )
    [event] = _audit("inbox.added")
    assert event.actor == admin and event.target_id == str(message.pk)


def test_two_messages_added_by_hand_are_two_messages(admin):
    for _ in range(2):
        services.message_add_manual(
            platform="email", kind="message", sender_name="", text="hi", received_at=timezone.now(), by=admin
        )
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize("ahead", [timedelta(hours=1), timedelta(days=3)])
def test_a_time_received_in_the_future_is_refused(admin, ahead):
    with pytest.raises(InboxError, match="future"):
        services.message_add_manual(
            platform="x", kind="comment", sender_name="", text="hi", received_at=timezone.now() + ahead, by=admin
        )
    assert not Conversation.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_time_a_minute_ahead_is_accepted_as_a_clock_running_fast(admin):
    services.message_add_manual(
        platform="x",
        kind="comment",
        sender_name="",
        text="hi",
        received_at=timezone.now() + timedelta(minutes=1),
        by=admin,
    )
    assert Conversation.objects.count() == 1


# --- assign ------------------------------------------------------------------------------------


def test_assigning_a_message_records_it_and_tells_the_assignee(
    message, admin, other_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_assign(message=message, assignee=other_admin, by=admin)
    message.refresh_from_db()
    assert message.assignee == other_admin
    assert [m.to for m in mail.outbox] == [[other_admin.email]]
    [event] = _audit("inbox.assigned")
    assert event.actor == admin and event.details == {"from": None, "to": other_admin.pk}


def test_taking_a_message_yourself_sends_no_email_and_unassigning_is_recorded(
    message, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_assign(message=message, assignee=admin, by=admin)
        services.message_assign(message=message, assignee=None, by=admin)
    message.refresh_from_db()
    assert message.assignee is None and mail.outbox == []
    assert [e.details for e in reversed(_audit("inbox.assigned"))] == [
        {"from": None, "to": admin.pk},
        {"from": admin.pk, "to": None},
    ]


# --- pass on -----------------------------------------------------------------------------------


def test_passing_on_records_the_note_tells_the_person_and_keeps_the_deadline(
    message, admin, member_of_staff, django_capture_on_commit_callbacks
):
    due = message.due_at
    with django_capture_on_commit_callbacks(execute=True):
        services.message_pass_on(
            message=message, to=member_of_staff, note="  You ran the trip; can you reply?  ", by=admin
        )
    message.refresh_from_db()
    assert message.passed_to == member_of_staff and message.passed_at is not None
    assert message.passed_note == "You ran the trip; can you reply?"
    assert message.due_at == due and message.status == Conversation.Status.OPEN
    [email] = mail.outbox
    assert email.to == [member_of_staff.email] and "You ran the trip; can you reply?" in email.body
    [event] = _audit("inbox.passed_on")
    assert event.actor == admin and event.details == {"to": member_of_staff.email}


@pytest.mark.parametrize("note", ["", "   \n"])
def test_passing_on_needs_a_note(message, admin, member_of_staff, note, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InboxError, match="note"):
        services.message_pass_on(message=message, to=member_of_staff, note=note, by=admin)
    message.refresh_from_db()
    assert message.passed_to is None and message.passed_at is None
    assert mail.outbox == [] and not _audit("inbox.passed_on")


# --- respond and close -------------------------------------------------------------------------


def test_recording_a_response_makes_the_message_done_on_time(message, member_of_staff):
    services.message_respond(
        message=message, text=" Replied with the dates. ", link="https://facebook.com/fig/1", by=member_of_staff
    )
    message.refresh_from_db()
    assert message.status == Conversation.Status.ANSWERED
    assert (message.response_text, message.response_link) == ("Replied with the dates.", "https://facebook.com/fig/1")
    assert message.responded_by == member_of_staff and message.done_at == message.responded_at
    reply = message.messages.get(from_fig=True)  # the reply is in the conversation, after the question
    assert (reply.event, reply.text, reply.link, reply.by) == (
        Message.Event.RECORDED,
        "Replied with the dates.",
        "https://facebook.com/fig/1",
        member_of_staff,
    )
    assert reply.at == message.responded_at
    [event] = _audit("inbox.answered")
    assert event.actor == member_of_staff and event.details == {"on_time": True}


def test_a_response_after_the_deadline_is_recorded_as_late(admin):
    message = _message(received_at=timezone.now() - timedelta(days=8))
    services.message_respond(message=message, text="Sorry for the wait.", link="", by=admin)
    [event] = _audit("inbox.answered")
    assert event.details == {"on_time": False}


def test_a_response_exactly_at_the_deadline_is_on_time(admin):
    message = _message(received_at=timezone.now() - timedelta(days=3))
    with frozen(message.due_at):
        services.message_respond(message=message, text="Just in time.", link="", by=admin)
    assert _audit("inbox.answered")[0].details == {"on_time": True}


def test_a_response_needs_text(message, admin):
    with pytest.raises(InboxError):
        services.message_respond(message=message, text="  ", link="https://facebook.com/x", by=admin)
    message.refresh_from_db()
    assert message.status == Conversation.Status.OPEN and not _audit("inbox.answered")


def test_closing_with_a_reason_makes_the_message_done(message, admin):
    services.message_close(message=message, reason="Spam advert", by=admin)
    message.refresh_from_db()
    assert message.status == Conversation.Status.CLOSED
    assert (message.closed_reason, message.closed_by) == ("Spam advert", admin)
    assert message.done_at == message.closed_at is not None
    [event] = _audit("inbox.closed")
    assert event.actor == admin and event.details == {"reason": "Spam advert"}


@pytest.mark.parametrize("reason", ["", "  "])
def test_closing_needs_a_reason(message, admin, reason):
    with pytest.raises(InboxError, match="why"):
        services.message_close(message=message, reason=reason, by=admin)
    message.refresh_from_db()
    assert message.status == Conversation.Status.OPEN and not _audit("inbox.closed")


# --- nothing changes a done message ------------------------------------------------------------


def _answer(message, by):
    services.message_respond(message=message, text="Answered already.", link="", by=by)


def _close(message, by):
    services.message_close(message=message, reason="No reply needed.", by=by)


ACTIONS = {
    "assign": lambda message, admin, other: services.message_assign(message=message, assignee=other, by=admin),
    "pass-on": lambda message, admin, other: services.message_pass_on(
        message=message, to=other, note="Please", by=admin
    ),
    "respond": lambda message, admin, other: services.message_respond(message=message, text="Again", link="", by=admin),
    "close": lambda message, admin, other: services.message_close(message=message, reason="Again", by=admin),
}


@pytest.mark.parametrize("finish", [_answer, _close], ids=["answered", "closed"])
@pytest.mark.parametrize("action", ACTIONS.values(), ids=ACTIONS.keys())
def test_every_action_on_a_done_message_is_refused_and_changes_nothing(
    message, admin, other_admin, finish, action, django_capture_on_commit_callbacks
):
    finish(message, admin)
    before = Conversation.objects.values().get(pk=message.pk)
    events = AuditEvent.objects.count()
    stale = Conversation.objects.get(pk=message.pk)  # what a form opened before it was done would hold
    stale.status = Conversation.Status.OPEN

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(InboxError, match="done"):
        action(stale, admin, other_admin)

    assert Conversation.objects.values().get(pk=message.pk) == before
    assert AuditEvent.objects.count() == events
    assert callbacks == [] and mail.outbox == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_administrators_responding_at_once_on_postgresql_make_one_response():
    assert connection.vendor == "postgresql"
    first, second = (factories.staff_user("social_admin") for _ in range(2))
    message = _message()
    barrier = threading.Barrier(2)
    done: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def respond(who) -> None:
        try:
            barrier.wait()
            services.message_respond(
                message=Conversation.objects.get(pk=message.pk), text=f"Reply from {who.pk}", link="", by=who
            )
            done.append(who.pk)
        except InboxError as exc:
            refused.append(str(exc))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=respond, args=(who,)) for who in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(done) == 1 and refused == ["This message is already done."]
    message.refresh_from_db()
    assert message.responded_by_id == done[0] and message.response_text == f"Reply from {done[0]}"
    assert AuditEvent.objects.filter(action="inbox.answered").count() == 1
