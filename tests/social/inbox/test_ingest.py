"""The bulk path for a large delivery (ingest.events_ingest): the same conversations, clocks and audit trail
as services.event_ingest one event at a time, each message stored once, in a fixed number of queries a chunk."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from social.inbox import ingest, services
from social.inbox.meta import Attachment, Event
from social.models import Conversation, Message
from social.tasks import flag_messages
from staff.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

# Clocks are compared with message_close's own time (now), so the scenario happens around now.
NOW = timezone.now().replace(microsecond=0) - timedelta(days=2)
MINUTE = timedelta(minutes=1)


def dm(mid: str, minutes: int, person: str, text: str = "", **fields) -> Event:
    return Event(
        platform="messenger",
        kind="message",
        action="add",
        platform_id=mid,
        person_id=person,
        person_name="",
        text=text or f"Message {mid}",
        at=NOW + minutes * MINUTE,
        **fields,
    )


def echo(mid: str, minutes: int, person: str) -> Event:
    return dm(mid, minutes, person, text=f"FiG's reply {mid}", from_fig=True)


def comment(cid: str, minutes: int, person: str, post: str, name: str = "", **fields) -> Event:
    return Event(
        platform="facebook",
        kind="comment",
        action="add",
        platform_id=cid,
        person_id=person,
        person_name=name,
        text=f"Comment {cid}",
        at=NOW + minutes * MINUTE,
        parent_id=post,
        **fields,
    )


def fig_comment(cid: str, minutes: int, post: str, reply_to: str = "") -> Event:
    return dataclasses.replace(comment(cid, minutes, "", post, reply_to=reply_to), text=f"FiG {cid}", from_fig=True)


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


def before(admin) -> None:
    """What is stored before the delivery comes: conversations open, answered and closed."""
    for event in (
        dm("f1", 20, "psid-f"),  # F: open since 20, a message at 40 the delivery's echo leaves unanswered
        dm("f2", 40, "psid-f"),
        dm("e1", 0, "psid-e"),  # E: answered at 50
        echo("e-echo", 50, "psid-e"),
        dm("g1", 0, "psid-g"),  # G: closed (now)
        comment("c-old", 0, "user-c", "post-1"),  # C on post 1, already stored: redelivered below
    ):
        services.event_ingest(event)
    services.message_close(message=Conversation.objects.get(thread="dm:psid-g"), reason="Spam", by=admin)


def delivery() -> list[Event]:
    """Several people, comments on two posts, echoes between messages, redelivered items and an edit."""
    return [
        dm("a1", 0, "psid-a"),
        dm("a2", 10, "psid-a"),
        echo("a-echo", 20, "psid-a"),  # answers a1, a2
        dm("a3", 30, "psid-a"),  # opens it again
        dm("a1", 0, "psid-a"),  # redelivered within the delivery
        dm("b1", 5, "psid-b", attachments=(Attachment(type="image", url="https://cdn.fbsbx.com/b1.jpg"),)),
        echo("b-echo", 6, "psid-b"),  # answers b1
        echo("h-echo", 7, "psid-h"),  # FiG writes first: a conversation waiting for nobody
        dm("h1", 3, "psid-h"),  # written before FiG's message: already answered
        comment("c-old", 0, "user-c", "post-1"),  # stored before the delivery
        comment("c1", 1, "user-c", "post-1", name="Cam"),
        comment("c2", 2, "user-c", "post-2", name="Cam"),  # the same person on another post: another conversation
        comment("d1", 3, "user-d", "post-1"),  # no name at first: the next comment gives it
        comment("d2", 4, "user-d", "post-1", name="Dee"),
        fig_comment("fig-c1", 4, "post-1", reply_to="c1"),  # answers C on post 1, not D
        comment("c3", 5, "user-c", "post-1", name="Cam Changed"),
        fig_comment("fig-post", 6, "post-9"),  # FiG's own words answering nobody: not kept
        dm("f0", 10, "psid-f"),  # older than F's clock: moves it back
        echo("f-echo", 30, "psid-f"),  # answers f0 and f1, not f2 stored at 40
        dm("e0", 45, "psid-e"),  # sent before E's answer at 50: stays answered
        dm("e2", 55, "psid-e"),  # after it: opens E again
        dm("g2", 60 * 24 * 3, "psid-g"),  # after G was closed: opens it again
        dm("k1", 0, "psid-k"),
        dm("k2", 20, "psid-k"),
        echo("k-echo", 10, "psid-k"),  # delivered after k2, sent before it: answers k1 only
        dataclasses.replace(dm("a2", 12, "psid-a", text="Message a2, edited"), action="edit"),
    ]


def snapshot() -> dict:
    """Conversations, messages and audit events keyed by what does not depend on the order of insertion."""
    conversations = {c.pk: c for c in Conversation.objects.all()}
    clock = {
        (c.platform, c.thread): (
            c.kind,
            c.sender_id,
            c.sender_name,
            c.text,
            c.status,
            c.received_at,
            c.due_at,
            c.responded_at,
            c.closed_at,
            c.closed_reason,
        )
        for c in conversations.values()
    }
    messages = {
        (m.platform, m.platform_id): (
            conversations[m.conversation_id].thread,
            m.event,
            m.from_fig,
            m.text,
            m.at,
            m.earlier_texts,
            m.attachments,
            m.flagged_at is None,
        )
        for m in Message.objects.all()
    }
    ids = dict(Message.objects.values_list("pk", "platform_id"))
    audits = sorted(
        (
            conversations[int(a.target_id)].thread,
            a.action,
            sorted((key, ids[value] if key == "message" else value) for key, value in a.details.items()),
        )
        for a in AuditEvent.objects.filter(target_type="social.conversation", target_id__in=map(str, conversations))
    )
    return {"conversations": clock, "messages": messages, "audits": audits}


def test_the_bulk_path_leaves_the_same_conversations_clocks_and_audit_trail_as_one_by_one(
    admin, django_capture_on_commit_callbacks
):
    before(admin)
    for event in delivery():
        services.event_ingest(event)
    one_by_one = snapshot()
    Conversation.objects.all().delete()

    before(admin)
    with django_capture_on_commit_callbacks() as queued:
        ingest.events_ingest(delivery())
    assert snapshot() == one_by_one
    flagging, photo, edit = queued  # after commit: one task checks the new messages, b1's photo, the edit
    assert set(Message.objects.filter(pk__in=flagging.args[0]).values_list("platform_id", flat=True)) == {
        *("a1", "a2", "a3", "b1", "h1", "c1", "c2", "c3", "d1", "d2", "f0", "e0", "e2", "g2", "k1", "k2")
    }
    assert Message.objects.get(pk=photo.args[0]).platform_id == "b1"

    by_thread = one_by_one["conversations"]
    assert by_thread[("messenger", "dm:psid-a")][4:6] == ("open", NOW + 30 * MINUTE)
    assert by_thread[("messenger", "dm:psid-b")][4] == "answered"
    assert by_thread[("messenger", "dm:psid-h")][4] == "answered"
    assert by_thread[("facebook", "comments:post-1:user-c")][4:6] == ("open", NOW + 5 * MINUTE)
    assert by_thread[("facebook", "comments:post-1:user-d")][2:6] == ("Dee", "Comment d2", "open", NOW + 3 * MINUTE)
    assert by_thread[("facebook", "comments:post-2:user-c")][4] == "open"
    assert by_thread[("messenger", "dm:psid-f")][4:6] == ("open", NOW + 40 * MINUTE)
    assert by_thread[("messenger", "dm:psid-e")][4:6] == ("open", NOW + 55 * MINUTE)
    assert by_thread[("messenger", "dm:psid-g")][4:6] == ("open", NOW + 60 * 24 * 3 * MINUTE)
    assert by_thread[("messenger", "dm:psid-k")][4:6] == ("open", NOW + 20 * MINUTE)
    assert ("facebook", "fig-post") not in one_by_one["messages"]
    assert one_by_one["messages"][("messenger", "a2")][3] == "Message a2, edited"


def test_a_redelivery_of_the_whole_delivery_stores_nothing_new(admin, django_capture_on_commit_callbacks):
    before(admin)
    ingest.events_ingest(delivery())
    stored = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        ingest.events_ingest(delivery())
    assert snapshot() == stored
    assert queued == []


def test_a_chunk_boundary_between_a_message_and_the_echo_answering_it_changes_nothing(monkeypatch, admin):
    before(admin)
    for event in delivery():
        services.event_ingest(event)
    one_by_one = snapshot()
    Conversation.objects.all().delete()

    before(admin)
    monkeypatch.setattr(ingest, "CHUNK", 3)
    ingest.events_ingest(delivery())
    assert snapshot() == one_by_one


def large_delivery(people: int) -> list[Event]:
    """Two messages from each person, with FiG's answer between them for one in ten, and a comment each."""
    events = []
    for n in range(people):
        person = f"psid-{n}"
        events += [dm(f"m{n}-1", 0, person), dm(f"m{n}-2", 2, person)]
        if n % 10 == 0:
            events.insert(-1, echo(f"m{n}-echo", 1, person))
        events.append(comment(f"c{n}", 3, f"user-{n}", f"post-{n % 7}"))
    return events


def test_two_thousand_events_take_a_fixed_number_of_queries_a_chunk(django_assert_max_num_queries):
    events = large_delivery(600)  # 2,000 events, 1,800 conversations: two chunks of up to 1,000
    assert len(events) == 1860
    events += [dm(f"x{n}", 5, f"psid-x{n}") for n in range(140)]
    assert len(events) == 2000
    # Each chunk: a savepoint and its release, ids stored, the conversations found, created and read back
    # locked, the person's messages after FiG's replies, the messages created and read back, the clocks
    # and the audit events: 11; what FiG's public replies answer is asked only when there are some.
    with django_assert_max_num_queries(2 * 11):
        ingest.events_ingest(events)
    assert Message.objects.count() == 2000
    assert Conversation.objects.count() == 600 + 600 + 140
    assert Conversation.objects.filter(status=Conversation.Status.OPEN).count() == 1340
    with django_assert_max_num_queries(2 * 3):  # a redelivery: the ids stored, inside a savepoint
        ingest.events_ingest(events)
    assert Message.objects.count() == 2000


def test_the_number_of_queries_does_not_grow_with_the_events():
    counts = []
    for people in (100, 300):
        with CaptureQueriesContext(connection) as captured:
            ingest.events_ingest([dm(f"n{people}-{n}", n % 50, f"p{people}-{n % 40}") for n in range(people)])
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_the_chunks_name_check_task_checks_each_message_and_passes_over_one_gone():
    ingest.events_ingest([dm("z1", 0, "psid-z"), dm("z2", 1, "psid-z")])
    ids = list(Message.objects.values_list("pk", flat=True))
    Message.objects.filter(platform_id="z2").delete()
    assert flag_messages([*ids]) == 0  # none urgent
    assert Message.objects.get(platform_id="z1").flagged_at is not None


@pytest.mark.parametrize("path", ["one by one", "bulk"])
def test_a_late_message_answered_by_a_stored_reply_does_not_move_the_clock_back(path):
    """Written before FiG's last reply, delivered after the next message: that reply answered it, whichever
    path stores it (the bulk path once moved the clock back to it, making the conversation look overdue)."""
    for event in (dm("m1", 0, "psid-m"), echo("m-echo", 20, "psid-m"), dm("m3", 30, "psid-m")):
        services.event_ingest(event)
    late = dm("m-late", 10, "psid-m")
    if path == "bulk":
        ingest.events_ingest([late])
    else:
        services.event_ingest(late)
    conversation = Conversation.objects.get(thread="dm:psid-m")
    assert conversation.status == Conversation.Status.OPEN
    assert (conversation.received_at, conversation.responded_at) == (NOW + 30 * MINUTE, NOW + 20 * MINUTE)
    assert Message.objects.filter(conversation=conversation).count() == 4
