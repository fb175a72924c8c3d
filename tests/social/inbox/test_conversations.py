"""Conversations: messages from one person join one thread; the one-week clock runs from the oldest message
not yet answered; a reply from FiG (sent from here, from Meta's own tools, or recorded) answers everything
before it; edits are checked again, removals close takedowns; a public comment naming a family without
online consent is hidden at once; a message whose flagging was lost is flagged by the sweep."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from social.inbox import services
from social.inbox.meta import Event
from social.inbox.sweeps import flag_lost
from social.models import Conversation, Message, Takedown, policy_due_at
from staff.models import AuditEvent
from tests import factories
from tests.consents import factories as cf
from tests.social.fake_graph import page_graph

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def dm(mid: str, at: datetime, *, person: str = "psid-1", text: str = "Hello", **fields) -> Event:
    return Event(
        platform="messenger",
        kind="message",
        action="add",
        platform_id=mid,
        person_id=person,
        person_name="",
        text=text,
        at=at,
        **fields,
    )


def comment(
    cid: str, at: datetime, *, person: str = "user-9", post: str = "page_post-1", text: str = "Lovely", **fields
):
    return Event(
        platform="facebook",
        kind="comment",
        action="add",
        platform_id=cid,
        person_id=person,
        person_name="Jo Bloggs",
        text=text,
        at=at,
        parent_id=post,
        **fields,
    )


def ingest(*events: Event) -> list[Message | None]:
    return [services.event_ingest(event) for event in events]


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


# --- threads -------------------------------------------------------------------------------------------------


def test_messages_from_one_person_on_one_platform_are_one_conversation():
    ingest(dm("m1", NOW), dm("m2", NOW + HOUR), dm("m3", NOW + 2 * HOUR, text="Are you there?"))
    conversation = Conversation.objects.get()
    assert [m.platform_id for m in conversation.messages.order_by("at")] == ["m1", "m2", "m3"]
    assert conversation.text == "Are you there?"
    assert conversation.received_at == NOW
    assert conversation.due_at == policy_due_at(NOW)


def test_other_people_and_other_platforms_are_other_conversations():
    ingest(dm("m1", NOW), dm("m2", NOW, person="psid-2"), dataclasses.replace(dm("ig1", NOW), platform="instagram"))
    assert Conversation.objects.count() == 3


def test_one_persons_comments_on_one_post_are_one_conversation_and_on_another_post_another():
    ingest(comment("c1", NOW), comment("c2", NOW + HOUR), comment("c3", NOW, post="page_post-2"))
    threads = {c.thread: c.messages.count() for c in Conversation.objects.all()}
    assert threads == {"comments:page_post-1:user-9": 2, "comments:page_post-2:user-9": 1}
    assert set(Conversation.objects.values_list("kind", flat=True)) == {Conversation.Kind.COMMENT}


def test_a_redelivered_message_is_stored_once():
    first, again = ingest(dm("m1", NOW), dm("m1", NOW))
    assert first is not None and again is None
    assert Message.objects.count() == 1


def test_button_presses_and_story_replies_join_the_persons_private_conversation():
    ingest(
        dm("m1", NOW),
        dataclasses.replace(dm("pb1", NOW + HOUR), kind="postback", text="Get Started"),
        dataclasses.replace(dm("sr1", NOW + 2 * HOUR), kind="story_reply", story_link="https://www.instagram.com/s/1"),
    )
    conversation = Conversation.objects.get()
    assert list(conversation.messages.values_list("event", flat=True)) == ["message", "postback", "story_reply"]
    assert conversation.kind == Conversation.Kind.MESSAGE


# --- the clock ---------------------------------------------------------------------------------------------


def test_one_reply_answers_everything_before_it_and_the_clock_moves_to_the_next_unanswered(admin):
    ingest(dm("m1", NOW), dm("m2", NOW + HOUR))
    conversation = Conversation.objects.get()
    services.message_respond(message=conversation, text="We replied by phone", link="", by=admin)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ANSWERED
    assert conversation.responded_by == admin

    later = timezone.now() + HOUR
    ingest(dm("m3", later), dm("m4", later + HOUR))
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.received_at == later  # the oldest not yet answered, not the newest
    assert conversation.due_at == policy_due_at(later)
    assert conversation.reminder_sent_at is None and conversation.escalated_at is None


def test_a_message_sent_before_the_reply_but_delivered_after_it_is_already_answered(admin):
    ingest(dm("m1", NOW))
    conversation = Conversation.objects.get()
    services.message_respond(message=conversation, text="Done", link="", by=admin)
    ingest(dm("m0", NOW + HOUR))  # written before the reply, delivered late
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ANSWERED


def test_a_late_delivery_of_an_older_message_moves_the_clock_back():
    ingest(dm("m2", NOW + HOUR), dm("m1", NOW))
    conversation = Conversation.objects.get()
    assert conversation.received_at == NOW
    assert conversation.due_at == policy_due_at(NOW)


def test_an_echo_of_a_reply_sent_from_metas_tools_answers_the_conversation_at_its_own_time():
    ingest(dm("m1", NOW), dm("m2", NOW + HOUR))
    ingest(dataclasses.replace(dm("echo-1", NOW + 3 * HOUR, text="Thanks, see you Friday"), from_fig=True))
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.ANSWERED
    assert conversation.responded_at == NOW + 3 * HOUR  # when it was sent, not when it was seen here
    echo = conversation.messages.get(platform_id="echo-1")
    assert echo.from_fig and echo.event == Message.Event.ECHO and echo.flagged_at is not None
    assert AuditEvent.objects.filter(action="inbox.echo").count() == 1


def test_an_echo_between_two_messages_answers_only_the_first():
    ingest(dm("m1", NOW), dm("m2", NOW + 2 * HOUR))
    ingest(dataclasses.replace(dm("echo-1", NOW + HOUR), from_fig=True))
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.received_at == NOW + 2 * HOUR


def test_a_closed_conversation_opens_again_when_the_person_writes_again(admin):
    ingest(dm("m1", NOW))
    conversation = Conversation.objects.get()
    services.message_close(message=conversation, reason="Spam", by=admin)
    ingest(dm("m2", timezone.now() + HOUR))
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN and conversation.closed_reason == ""
    assert AuditEvent.objects.filter(action="inbox.reopened").count() == 1


# --- edits and removals ------------------------------------------------------------------------------------


@pytest.fixture
def sam(coordinator):
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    child.first_name, child.last_name = "Sam", "Okafor"
    child.save()
    return child


def test_an_edit_keeps_the_earlier_text_and_is_checked_for_names_again(sam, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(comment("c1", NOW, text="Lovely day"))
    message = Message.objects.get()
    assert message.flagged_at is not None and not message.urgent
    with django_capture_on_commit_callbacks(execute=True):
        ingest(dataclasses.replace(comment("c1", NOW + HOUR, text="Lovely day, well done Sam Okafor"), action="edit"))
    message.refresh_from_db()
    assert message.text == "Lovely day, well done Sam Okafor"
    assert message.earlier_texts == [{"text": "Lovely day", "until": (NOW + HOUR).isoformat()}]
    assert message.urgent and message.flagged_names == ["Sam Okafor"]
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.urgent and conversation.text == "Lovely day, well done Sam Okafor"
    assert list(conversation.flagged_families.all()) == [sam.family]


def test_an_unsent_message_is_marked_so_and_kept():
    ingest(dm("m1", NOW))
    ingest(dataclasses.replace(dm("m1", NOW + HOUR), action="remove"))
    message = Message.objects.get()
    assert message.removed_how == Message.Removed.UNSENT and message.text == "Hello"


def test_a_comment_removed_on_the_platform_closes_its_takedown(admin):
    ingest(comment("c1", NOW))
    conversation = Conversation.objects.get()
    takedown, _ = services.takedown_open(message=conversation, reason="Names a child", by=admin)
    assert takedown.item.platform_id == "c1"
    ingest(dataclasses.replace(comment("c1", NOW + HOUR), action="remove"))
    takedown.refresh_from_db()
    assert takedown.status == Takedown.Status.REMOVED and takedown.how == Takedown.How.ON_PLATFORM
    assert Message.objects.get().removed_how == Message.Removed.REMOVED


def test_hidden_then_unhidden_is_shown_again():
    ingest(comment("c1", NOW))
    ingest(dataclasses.replace(comment("c1", NOW), action="hide"))
    assert Message.objects.get().removed_how == Message.Removed.HIDDEN
    ingest(dataclasses.replace(comment("c1", NOW), action="unhide"))
    assert Message.objects.get().removed_how == ""


def test_an_edit_of_a_message_never_seen_is_stored_as_it_now_is():
    ingest(dataclasses.replace(dm("m9", NOW, text="Edited text"), action="edit"))
    assert Message.objects.get().text == "Edited text"


# --- urgent: names in public --------------------------------------------------------------------------------


def test_a_comment_naming_a_family_without_online_consent_is_hidden_at_once_and_everyone_told(
    sam, settings, coordinator, admin, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with page_graph(settings) as fake, django_capture_on_commit_callbacks(execute=True):
        ingest(comment("c1", timezone.now(), text="Is that Sam Okafor in the photo?"))
    takedown = Takedown.objects.get()
    assert takedown.item.platform_id == "c1"
    assert takedown.status == Takedown.Status.REMOVED and takedown.how == Takedown.How.HIDDEN
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.fields.get("is_hidden")) for r in fake.requests] == [
        ("POST", "c1", "true")
    ]
    assert fake.problems == []
    to = {address for email in mail.outbox for address in email.to}
    assert {coordinator.email, admin.email} <= to


def test_a_family_that_agreed_to_online_use_is_flagged_but_not_hidden(
    sam, settings, django_capture_on_commit_callbacks
):
    carer = sam.family.carers.get()
    cf.give(sam, carer)
    with page_graph(settings) as fake, django_capture_on_commit_callbacks(execute=True):
        ingest(comment("c1", timezone.now(), text="Sam Okafor did so well"))
    assert Conversation.objects.get().urgent
    assert not Takedown.objects.exists()
    assert fake.requests == []


def test_a_private_message_naming_a_family_is_flagged_but_never_hidden(
    sam, settings, django_capture_on_commit_callbacks
):
    with page_graph(settings) as fake, django_capture_on_commit_callbacks(execute=True):
        ingest(dm("m1", timezone.now(), text="This is Sam Okafor's mum"))
    assert Conversation.objects.get().urgent
    assert not Takedown.objects.exists() and fake.requests == []


def test_without_a_coordinator_the_ceo_and_the_administrators_are_told(ceo, admin, django_capture_on_commit_callbacks):
    family, child, _ = cf.family_with_child()
    child.first_name, child.last_name = "Ava", "Lindqvist"
    child.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(comment("c1", timezone.now(), text="ava lindqvist is in this"))
    to = {address for email in mail.outbox for address in email.to}
    assert {ceo.email, admin.email} <= to
    assert Takedown.objects.get().item.platform_id == "c1"  # opened even with no Graph API: removed by hand


# --- a lost flagging task --------------------------------------------------------------------------------------


def test_a_message_whose_flagging_task_was_lost_is_flagged_by_the_sweep(sam):
    ingest(comment("c1", NOW, text="Sam Okafor!"))  # on_commit never ran: the task was never queued
    message = Message.objects.get()
    assert message.flagged_at is None
    assert flag_lost(timezone.now()) == 0  # not yet: it may still be on its way
    assert flag_lost(timezone.now() + timedelta(minutes=4)) == 1
    message.refresh_from_db()
    assert message.urgent and message.conversation.urgent
    assert flag_lost(timezone.now() + timedelta(minutes=5)) == 0


def test_a_comment_reply_fig_made_from_metas_tools_answers_the_commenters_conversation():
    ingest(comment("c1", NOW), comment("c2", NOW + HOUR, person="user-10"))
    fig_reply = Event(
        platform="facebook",
        kind="comment",
        action="add",
        platform_id="c-fig",
        person_id="",  # Meta says only which comment FiG answered, not whose
        person_name="",
        text="Thank you!",
        at=NOW + 2 * HOUR,
        from_fig=True,
        parent_id="page_post-1",
        reply_to="c1",
    )
    ingest(fig_reply)
    answered = Conversation.objects.get(thread="comments:page_post-1:user-9")
    waiting = Conversation.objects.get(thread="comments:page_post-1:user-10")
    assert answered.status == Conversation.Status.ANSWERED and answered.responded_at == NOW + 2 * HOUR
    assert waiting.status == Conversation.Status.OPEN
    assert answered.messages.filter(from_fig=True, event=Message.Event.ECHO).count() == 1


def test_figs_own_posts_and_comments_answering_nobody_make_no_conversation():
    own_post = Event(
        platform="facebook",
        kind="visitor_post",
        action="add",
        platform_id="page_post-3",
        person_id="",
        person_name="",
        text="Our summer fair is on Saturday",
        at=NOW,
        from_fig=True,
    )
    own_comment = dataclasses.replace(own_post, kind="comment", platform_id="c-own", parent_id="page_post-3")
    assert ingest(own_post, own_comment) == [None, None]
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_late_message_answered_by_the_last_reply_does_not_move_the_clock_back():
    ingest(dm("m1", NOW))
    ingest(dataclasses.replace(dm("echo-1", NOW + 2 * HOUR), from_fig=True))
    ingest(dm("m3", NOW + 3 * HOUR))
    ingest(dm("m-late", NOW + HOUR))  # written before FiG's reply, delivered after the next message
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.received_at == NOW + 3 * HOUR
