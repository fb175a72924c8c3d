"""Replying in place: Messenger and Instagram messages through the Send API (standard window, the human agent
tag to day 7, refused on day 8 with the reason), public and private replies to comments, a failed send that
keeps its text, a call that never answered is not sent again, and the echo of our own reply is not a second
reply. Against the fake Graph API on loopback, which records every request."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from social.inbox import replies, services
from social.inbox.meta import Event
from social.inbox.services import InboxError
from social.models import Conversation, Message
from staff.models import AuditEvent
from tests import factories
from tests.consents import factories as cf
from tests.social.fake_graph import page_graph

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def fake(settings):
    with page_graph(settings) as fake:
        yield fake


def _dm(ago: timedelta, *, platform: str = "messenger", mid: str = "m1") -> Conversation:
    services.event_ingest(
        Event(
            platform=platform,
            kind="message",
            action="add",
            platform_id=mid,
            person_id="psid-42",
            person_name="Jo Bloggs",
            text="When is the next family day?",
            at=timezone.now() - ago,
        )
    )
    return Conversation.objects.get(platform=platform)


def _comment(ago: timedelta, *, platform: str = "facebook") -> Conversation:
    services.event_ingest(
        Event(
            platform=platform,
            kind="comment",
            action="add",
            platform_id="c-77",
            person_id="user-9",
            person_name="Jo Bloggs",
            text="How do I join?",
            at=timezone.now() - ago,
            parent_id="post-1",
        )
    )
    return Conversation.objects.get()


def _send(conversation, send_as, admin, capture, text="Thank you, Friday at 10."):
    with capture(execute=True):
        reply = replies.reply_queue(conversation=conversation, text=text, send_as=send_as, by=admin)
    reply.refresh_from_db()
    conversation.refresh_from_db()
    return reply


def _fields(request) -> dict:
    fields = dict(request.fields)
    for key in ("recipient", "message"):
        if key in fields:
            fields[key] = json.loads(fields[key])
    return fields


def test_a_reply_inside_24_hours_goes_as_a_response(fake, admin, django_capture_on_commit_callbacks):
    conversation = _dm(timedelta(hours=3))
    options = replies.reply_options(conversation, timezone.now())
    assert [way for way, _ in options.ways] == [Message.SendAs.MESSAGE]
    reply = _send(conversation, Message.SendAs.MESSAGE, admin, django_capture_on_commit_callbacks)
    [request] = fake.requests
    assert _fields(request) | {"access_token": "-"} == {
        "recipient": {"id": "psid-42"},
        "message": {"text": "Thank you, Friday at 10."},
        "messaging_type": "RESPONSE",
        "access_token": "-",
    }
    assert fake.problems == []
    assert reply.sending == Message.Sending.SENT and reply.platform_id and reply.by == admin
    assert conversation.status == Conversation.Status.ANSWERED and conversation.responded_by == admin
    assert AuditEvent.objects.filter(action="inbox.reply_sent").count() == 1


def test_on_day_5_the_reply_goes_with_the_human_agent_tag(fake, admin, django_capture_on_commit_callbacks):
    conversation = _dm(5 * DAY)
    options = replies.reply_options(conversation, timezone.now())
    assert [way for way, _ in options.ways] == [Message.SendAs.HUMAN_AGENT]
    with pytest.raises(InboxError):  # the standard window is closed: it cannot go as a plain response
        replies.reply_queue(conversation=conversation, text="Hi", send_as=Message.SendAs.MESSAGE, by=admin)
    _send(conversation, Message.SendAs.HUMAN_AGENT, admin, django_capture_on_commit_callbacks)
    [request] = fake.requests
    fields = _fields(request)
    assert (fields["messaging_type"], fields["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert conversation.status == Conversation.Status.ANSWERED


def test_on_day_8_nothing_can_be_sent_and_the_page_is_told_why(fake, admin):
    conversation = _dm(8 * DAY)
    options = replies.reply_options(conversation, timezone.now())
    assert options.ways == []
    assert "more than seven days ago" in options.why_not
    for way in Message.SendAs.values:
        with pytest.raises(InboxError, match="seven days"):
            replies.reply_queue(conversation=conversation, text="Sorry for the wait", send_as=way, by=admin)
    assert fake.requests == [] and not Message.objects.filter(from_fig=True).exists()


def test_instagram_messages_go_through_the_same_send_api(fake, admin, django_capture_on_commit_callbacks):
    conversation = _dm(timedelta(hours=1), platform="instagram", mid="ig-m1")
    _send(conversation, Message.SendAs.MESSAGE, admin, django_capture_on_commit_callbacks)
    assert [r.endpoint for r in fake.requests] == ["messages"]


def test_a_public_reply_goes_under_the_comment(fake, admin, django_capture_on_commit_callbacks):
    conversation = _comment(timedelta(hours=2))
    reply = _send(conversation, Message.SendAs.PUBLIC_REPLY, admin, django_capture_on_commit_callbacks)
    [request] = fake.requests
    assert request.endpoint == "comments" and request.path.endswith("/c-77/comments")
    assert request.fields["message"] == "Thank you, Friday at 10."
    assert reply.reply_to == "c-77" and reply.sending == Message.Sending.SENT


def test_an_instagram_comment_reply_goes_to_its_replies_edge(fake, admin, django_capture_on_commit_callbacks):
    conversation = _comment(timedelta(hours=2), platform="instagram")
    _send(conversation, Message.SendAs.PUBLIC_REPLY, admin, django_capture_on_commit_callbacks)
    assert [r.endpoint for r in fake.requests] == ["replies"]


def test_a_private_reply_goes_to_the_comments_author_once(fake, admin, django_capture_on_commit_callbacks):
    conversation = _comment(timedelta(hours=2))
    _send(conversation, Message.SendAs.PRIVATE_REPLY, admin, django_capture_on_commit_callbacks)
    [request] = fake.requests
    assert _fields(request)["recipient"] == {"comment_id": "c-77"}
    ways = [way for way, _ in replies.reply_options(conversation, timezone.now()).ways]
    assert ways == [Message.SendAs.PUBLIC_REPLY]  # Meta allows one private reply per comment


def test_no_private_reply_after_seven_days(fake):
    conversation = _comment(8 * DAY)
    assert [way for way, _ in replies.reply_options(conversation, timezone.now()).ways] == [Message.SendAs.PUBLIC_REPLY]


def test_a_failed_send_says_why_and_keeps_the_text(fake, admin, django_capture_on_commit_callbacks):
    fake.fail_on("messages", status=400, message="(#10) This message is sent outside of allowed window")
    conversation = _dm(timedelta(hours=1))
    reply = _send(conversation, Message.SendAs.MESSAGE, admin, django_capture_on_commit_callbacks, text="Our reply")
    assert reply.sending == Message.Sending.FAILED
    assert "outside of allowed window" in reply.send_error
    assert reply.text == "Our reply"
    assert conversation.status == Conversation.Status.OPEN  # nothing answered it

    fake._failures.clear()
    with django_capture_on_commit_callbacks(execute=True):
        replies.reply_try_again(reply=reply, by=admin)
    reply.refresh_from_db()
    conversation.refresh_from_db()
    assert reply.sending == Message.Sending.SENT and conversation.status == Conversation.Status.ANSWERED
    assert len(fake.requests) == 2


def test_a_call_that_timed_out_is_uncertain_and_never_sent_again(
    fake, admin, settings, django_capture_on_commit_callbacks
):
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("messages", 2)
    conversation = _dm(timedelta(hours=1))
    reply = _send(conversation, Message.SendAs.MESSAGE, admin, django_capture_on_commit_callbacks)
    assert reply.sending == Message.Sending.UNCERTAIN and "cannot tell" in reply.send_error
    replies.reply_send(message_id=reply.pk)  # a redelivered task
    assert replies.resume_replies(timezone.now() + timedelta(minutes=10)) == 0
    assert len(fake.requests) == 1


def test_a_reply_whose_task_was_lost_is_sent_by_the_sweep_once(fake, admin, django_capture_on_commit_callbacks):
    conversation = _dm(timedelta(hours=1))
    reply = replies.reply_queue(conversation=conversation, text="Hello", send_as=Message.SendAs.MESSAGE, by=admin)
    assert fake.requests == []  # on_commit never ran
    assert replies.resume_replies(timezone.now()) == 0
    with django_capture_on_commit_callbacks(execute=True):  # queued once the claim commits
        replies.resume_replies(timezone.now() + timedelta(minutes=3))
    reply.refresh_from_db()
    assert reply.sending == Message.Sending.SENT and len(fake.requests) == 1
    replies.reply_send(message_id=reply.pk)
    assert len(fake.requests) == 1


def test_the_echo_of_our_own_reply_is_not_a_second_reply(fake, admin, django_capture_on_commit_callbacks):
    conversation = _dm(timedelta(hours=1))
    reply = _send(conversation, Message.SendAs.MESSAGE, admin, django_capture_on_commit_callbacks)
    services.event_ingest(
        Event(
            platform="messenger",
            kind="message",
            action="add",
            platform_id=reply.platform_id,
            person_id="psid-42",
            person_name="",
            text=reply.text,
            at=timezone.now(),
            from_fig=True,
        )
    )
    assert conversation.messages.filter(from_fig=True).count() == 1


def test_an_echo_that_comes_before_metas_answer_is_folded_into_the_reply(
    fake, admin, django_capture_on_commit_callbacks
):
    conversation = _dm(timedelta(hours=1))
    echo_mid = "m_echo_first"
    fake.next_message_id = echo_mid  # Meta will answer with the id its echo already carried
    services.event_ingest(
        Event(
            platform="messenger",
            kind="message",
            action="add",
            platform_id=echo_mid,
            person_id="psid-42",
            person_name="",
            text="Thank you, Friday at 10.",
            at=timezone.now(),
            from_fig=True,
        )
    )
    reply = _send(conversation, Message.SendAs.MESSAGE, admin, django_capture_on_commit_callbacks)
    assert conversation.messages.filter(from_fig=True).count() == 1
    assert reply.platform_id == echo_mid


def test_a_public_reply_naming_a_child_from_the_register_is_refused(fake, admin, coordinator):
    _, child, _ = cf.family_with_child(coordinator=coordinator)
    child.first_name, child.last_name = "Sam", "Okafor"
    child.save()
    conversation = _comment(timedelta(hours=1))
    with pytest.raises(InboxError, match="must not identify"):
        replies.reply_queue(
            conversation=conversation, text="Yes, sam okafor loved it", send_as=Message.SendAs.PUBLIC_REPLY, by=admin
        )
    assert fake.requests == [] and not Message.objects.filter(from_fig=True).exists()


def test_a_private_message_with_a_name_needs_the_writer_to_confirm(
    fake, admin, coordinator, django_capture_on_commit_callbacks
):
    _, child, _ = cf.family_with_child(coordinator=coordinator)
    child.first_name, child.last_name = "Sam", "Okafor"
    child.save()
    conversation = _dm(timedelta(hours=1))
    with pytest.raises(InboxError, match="tick the box"):
        replies.reply_queue(conversation=conversation, text="Sam Okafor's place is booked", send_as="message", by=admin)
    with django_capture_on_commit_callbacks(execute=True):
        replies.reply_queue(
            conversation=conversation,
            text="Sam Okafor's place is booked",
            send_as="message",
            by=admin,
            names_checked=True,
        )
    assert len(fake.requests) == 1


def test_a_saved_reply_is_personalised_with_the_first_name():
    conversation = Conversation(sender_name="Jo Bloggs")
    assert replies.personalise("Hi {first_name}, thanks!", conversation) == "Hi Jo, thanks!"
    assert replies.personalise("Hi {first_name}", Conversation(sender_name="")) == "Hi there"


def test_without_the_graph_api_the_page_says_to_reply_elsewhere(settings):
    settings.FIG_META_PAGE_TOKEN = ""
    conversation = _dm(timedelta(hours=1))
    options = replies.reply_options(conversation, timezone.now())
    assert options.ways == [] and "not set up" in options.why_not


def test_a_conversation_typed_in_by_hand_cannot_be_sent_to(fake, admin):
    conversation = services.message_add_manual(
        platform="email", kind="message", sender_name="Jo", text="Hi", received_at=timezone.now(), by=admin
    )
    assert replies.reply_options(conversation, timezone.now()).ways == []


def test_reply_texts_are_kept_even_when_meta_refuses(fake, admin, django_capture_on_commit_callbacks):
    fake.fail_on("comments", status=400, message="Unsupported post request")
    conversation = _comment(timedelta(hours=1))
    reply = _send(conversation, "public_reply", admin, django_capture_on_commit_callbacks, text="Kept text")
    assert reply.text == "Kept text" and reply.sending == Message.Sending.FAILED
    assert dataclasses.asdict(replies.reply_options(conversation, timezone.now()))["ways"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_row_is_locked_while_the_reply_is_sent(fake, admin):
    """Invariant: no network call while a database row is locked. While Meta is answering the Send API call,
    another connection can lock the conversation and the reply at once (NOWAIT), and sees the reply sending."""
    from django.db import connection, transaction

    assert connection.vendor == "postgresql"
    conversation = _dm(timedelta(hours=1))
    seen: list = []

    def try_lock(request) -> None:
        from django.db import connection as thread_connection

        try:
            with transaction.atomic():
                Conversation.objects.select_for_update(nowait=True).get(pk=conversation.pk)
                reply = Message.objects.select_for_update(nowait=True).get(conversation=conversation, from_fig=True)
                seen.append(reply.sending)
        except Exception as exc:  # noqa: BLE001 - any failure to lock is what the test reports
            seen.append(exc)
        finally:
            thread_connection.close()

    fake.on_request = try_lock
    reply = replies.reply_queue(conversation=conversation, text="Hello", send_as=Message.SendAs.MESSAGE, by=admin)
    reply.refresh_from_db()
    assert seen == [Message.Sending.SENDING]
    assert reply.sending == Message.Sending.SENT
