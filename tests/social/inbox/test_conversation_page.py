"""The conversation page: the thread, replying from here through the Graph API (against the fake Graph API on
127.0.0.1), saved replies in the reply box, notes, the pass-on history, the "someone else is replying" warning
and the attachments' access-checked view.

Personas: a social media administrator, another administrator, the CEO (reads, changes nothing), the member of
staff the conversation was passed to, a member of staff it was not passed to, the coordinator of the family it
names, a coordinator of another family, a parent and anonymous people.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from consents.models import Family
from fig_safety.times import when
from fig_safety.vault import vault_save
from social.models import Conversation, ConversationNote, Message, PassOn, Platform, SavedReply, policy_due_at
from staff.models import AuditEvent, User
from tests import factories
from tests.consents.factories import FamilyFactory, assign
from tests.query_counts import STAFF_REQUEST_QUERIES
from tests.social.fake_graph import FakeGraph, page_graph

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PNG = b"\x89PNG\r\n\x1a\n" + b"a photo of the picnic" * 20
PDF = b"%PDF-1.7\n" + b"the leaflet" * 20


def _conversation(
    *,
    ago: timedelta = HOUR,
    platform: str = Platform.MESSENGER,
    kind: str = Conversation.Kind.MESSAGE,
    text: str = "Hello FiG, when is the next group?",
    sender_name: str = "Sam Parent",
    families: tuple[Family, ...] = (),
    **fields,
) -> Conversation:
    """A conversation from Meta with the person's first message `ago`, as ingesting leaves it."""
    at = timezone.now() - ago
    n = next(_ids)
    conversation = Conversation.objects.create(
        platform=platform,
        kind=kind,
        thread=f"dm:psid-{n}" if kind == Conversation.Kind.MESSAGE else f"comments:post-{n}:psid-{n}",
        sender_id=f"psid-{n}",
        sender_name=sender_name,
        text=text,
        received_at=at,
        due_at=policy_due_at(at),
        urgent=bool(families),
        flagged_names=["Ava Demo"] if families else [],
        flagged_at=at if families else None,
        **fields,
    )
    conversation.flagged_families.set(families)
    _item(conversation, text=text, at=at, event=kind)
    return conversation


def _item(conversation: Conversation, *, text: str, at: datetime, **fields) -> Message:
    fields.setdefault("event", Message.Event.MESSAGE)
    fields.setdefault("platform_id", None if fields.get("from_fig") else f"mid.{next(_ids)}")
    return Message.objects.create(
        conversation=conversation, platform=conversation.platform, text=text, at=at, flagged_at=at, **fields
    )


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _page(client, conversation: Conversation, **params) -> str:
    response = client.get(reverse("social:message", args=[conversation.pk]), params)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _words(page: str) -> str:
    """The page's text with tags taken out and spaces tidied, to match sentences split across lines."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


# --- personas and a small world ---------------------------------------------------------------


@pytest.fixture
def social_admin(db) -> User:
    return factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")


@pytest.fixture
def other_admin(db) -> User:
    return factories.staff_user("social_admin", email="ola@example.org", full_name="Ola Other")


@pytest.fixture
def helper(db) -> User:
    """The member of staff the conversation is passed to."""
    return factories.staff_user("staff", email="hal@example.org", full_name="Hal Helper")


@pytest.fixture
def other_coordinator(db) -> User:
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def fake(settings) -> Iterator[FakeGraph]:
    with page_graph(settings) as fake:
        yield fake


@dataclass
class World:
    conversation: Conversation  # names the coordinator's family, passed to the helper
    photo: Message  # the person's message with a photo kept in the vault
    other: Conversation  # another conversation, with a message of its own
    other_item: Message
    failed: Message  # a reply of FiG's that was not sent
    saved: SavedReply


@pytest.fixture
def world(social_admin, helper, coordinator, other_coordinator) -> World:
    family = FamilyFactory()
    assign(coordinator, family)
    assign(other_coordinator, FamilyFactory())
    conversation = _conversation(families=(family,), text="Lovely to see Ava Demo at the picnic!")
    Conversation.objects.filter(pk=conversation.pk).update(passed_to=helper, passed_note="Can you answer?")
    conversation.refresh_from_db()
    blob = vault_save(PNG, folder="inbox")
    photo = _item(
        conversation,
        text="",
        at=timezone.now() - 30 * timedelta(minutes=1),
        attachments=[
            {
                "type": "image",
                "title": "",
                "blob": blob.name,
                "key_id": blob.key_id,
                "size": blob.size,
                "content_type": "image/png",
            },
        ],
        attachments_fetched_at=timezone.now(),
    )
    failed = _item(
        conversation,
        text="We will ring you tomorrow.",
        at=timezone.now() - 20 * timedelta(minutes=1),
        from_fig=True,
        event=Message.Event.REPLY,
        send_as=Message.SendAs.MESSAGE,
        sending=Message.Sending.FAILED,
        send_error="Meta refused it. Nothing was sent; the text is kept below.",
        by=social_admin,
    )
    other = _conversation(text="Another conversation")
    saved = SavedReply.objects.create(title="Thanks", text="Thank you, {first_name}!", created_by=social_admin)
    return World(conversation, photo, other, other.messages.get(), failed, saved)


def _persona(name: str, request) -> User | None:
    return None if name == "anonymous" else request.getfixturevalue(name)


def _targets(w: World) -> dict[str, tuple[str, str, dict]]:
    """Each new URL of the conversation page: (method, url, a body that would change something if allowed)."""
    pk = w.conversation.pk
    return {
        "reply": ("post", reverse("social:reply", args=[pk]), {"send_as": "message", "text": "See you on Tuesday."}),
        "reply_insert": ("post", reverse("social:reply_insert", args=[pk]), {"saved": w.saved.pk, "text": ""}),
        "reply_again": ("post", reverse("social:reply_again", args=[pk, w.failed.pk]), {}),
        "replying": ("post", reverse("social:replying", args=[pk]), {}),
        "note": ("post", reverse("social:note", args=[pk]), {"text": "Mum rang us about this."}),
        "attachment": ("get", reverse("social:attachment", args=[pk, w.photo.pk, 0]), {}),
    }


OK = "ok"
MATRIX: dict[str, dict[str, object]] = {
    "social_admin": {"default": OK},
    "ceo": {"default": 403, "attachment": OK},
    "helper": {"default": OK},
    "member_of_staff": {"default": 404},
    "coordinator": {"default": 403, "note": OK, "attachment": OK},
    "other_coordinator": {"default": 404},
    "parent": {"default": 403},
    "anonymous": {"default": "login"},
}


def _snapshot() -> dict:
    return {
        "messages": list(Message.objects.order_by("pk").values("text", "sending")),
        "notes": ConversationNote.objects.count(),
        "replying": list(Conversation.objects.order_by("pk").values_list("replying_by", flat=True)),
        "audit": AuditEvent.objects.filter(action__startswith="inbox.").count(),
    }


@pytest.mark.parametrize("persona", list(MATRIX))
@pytest.mark.parametrize("name", ["reply", "reply_insert", "reply_again", "replying", "note", "attachment"])
def test_the_access_matrix(client, request, fake, world, persona, name):
    user = _persona(persona, request)
    if user is not None:
        client.force_login(user)
    method, url, body = _targets(world)[name]
    expected = MATRIX[persona].get(name, MATRIX[persona]["default"])
    before = _snapshot()

    response = getattr(client, method)(url, body)

    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    elif expected == OK:
        assert response.status_code in {200, 204, 302}, response.content.decode()[:2000]
        assert _snapshot() != before, "an allowed request changed and recorded nothing"
    else:
        assert response.status_code == expected
    if expected != OK:
        assert _snapshot() == before


@pytest.mark.parametrize("name", ["reply", "reply_insert", "reply_again", "replying", "note"])
def test_it_refuses_get_on_every_change(client, world, social_admin, name):
    client.force_login(social_admin)
    _, url, _ = _targets(world)[name]
    before = _snapshot()
    assert client.get(url).status_code == 405
    assert _snapshot() == before


def test_the_attachment_view_refuses_post_and_head(client, world, social_admin):
    client.force_login(social_admin)
    _, url, _ = _targets(world)["attachment"]
    assert client.post(url).status_code == 405
    assert client.head(url).status_code == 405
    assert not AuditEvent.objects.filter(action="inbox.attachment_viewed").exists()


# --- the thread -------------------------------------------------------------------------------


def test_the_thread_shows_every_message_in_order_with_who_sent_each_and_how(client, social_admin, helper):
    start = timezone.now() - 3 * HOUR
    conversation = _conversation(ago=3 * HOUR, text="First: is the group on?")
    _item(
        conversation,
        text="Reply from Meta Business Suite",
        at=start + 10 * timedelta(minutes=1),
        from_fig=True,
        event=Message.Event.ECHO,
        platform_id="mid.echo",
    )
    _item(conversation, text="Second: thanks, and where?", at=start + HOUR)
    _item(
        conversation,
        text="Sent from here",
        at=start + 70 * timedelta(minutes=1),
        from_fig=True,
        event=Message.Event.REPLY,
        send_as=Message.SendAs.HUMAN_AGENT,
        sending=Message.Sending.SENT,
        by=social_admin,
        platform_id="mid.sent",
    )
    _item(
        conversation,
        text="Rang them instead",
        at=start + 80 * timedelta(minutes=1),
        from_fig=True,
        event=Message.Event.RECORDED,
        by=helper,
        link="https://x.com/fig/status/1",
    )
    _item(
        conversation,
        text="Still waiting to go",
        at=start + 90 * timedelta(minutes=1),
        from_fig=True,
        event=Message.Event.REPLY,
        send_as=Message.SendAs.MESSAGE,
        sending=Message.Sending.QUEUED,
        by=social_admin,
    )
    _item(
        conversation,
        text="Might have gone",
        at=start + 100 * timedelta(minutes=1),
        from_fig=True,
        event=Message.Event.REPLY,
        send_as=Message.SendAs.MESSAGE,
        sending=Message.Sending.UNCERTAIN,
        send_error="The Graph API call stopped part of the way through.",
        by=social_admin,
    )
    client.force_login(social_admin)

    page = _page(client, conversation)

    texts = [
        "First: is the group on?",
        "Reply from Meta Business Suite",
        "Second: thanks, and where?",
        "Sent from here",
        "Rang them instead",
        "Still waiting to go",
        "Might have gone",
    ]
    positions = [page.index(text) for text in texts]
    assert positions == sorted(positions)
    items = re.findall(r'<li class="thread-item (thread-\w+)"', page)
    assert items == ["thread-them", "thread-fig", "thread-them", "thread-fig", "thread-fig", "thread-fig", "thread-fig"]
    words = _words(page)
    assert "FiG · Sent from Meta’s own tools" in words
    assert "FiG (Sol Admin) · Sent from FiG Safety: Message, with Meta's human agent tag" in words
    assert "FiG (Hal Helper) · Made elsewhere, recorded here" in words
    assert 'href="https://x.com/fig/status/1"' in page
    assert ">Sent<" in page and ">Waiting to send<" in page and ">Not known whether it was sent<" in page
    assert "Check it: The Graph API call stopped part of the way through." in words
    # Each time on London's clock, as fig_safety.times writes it.
    assert when(start + HOUR, year=True) in page


def test_the_thread_marks_edits_removals_events_and_links(client, social_admin):
    conversation = _conversation(ago=2 * HOUR, text="Edited words")
    first = conversation.messages.get()
    Message.objects.filter(pk=first.pk).update(
        edited_at=first.at + HOUR,
        earlier_texts=[{"text": "Original words", "until": (first.at + HOUR).isoformat()}],
    )
    at = timezone.now() - HOUR
    _item(conversation, text="Book a place", at=at, event=Message.Event.POSTBACK)
    _item(
        conversation,
        text="Love this!",
        at=at,
        event=Message.Event.STORY_REPLY,
        story_link="https://lookaside.fbsbx.com/story/1",
    )
    _item(conversation, text="Gone now", at=at, removed_at=at, removed_how=Message.Removed.UNSENT)
    _item(
        conversation,
        text="Great charity",
        at=at,
        event=Message.Event.REVIEW,
        rating=4,
        permalink="https://www.facebook.com/fig/reviews/1",
    )
    _item(conversation, text="Sneaky", at=at, event=Message.Event.MENTION, permalink="https://evil.example/fb")
    _item(
        conversation,
        text="",
        at=at,
        attachments=[{"type": "video", "title": "", "error": "Meta refused (403)."}],
        attachments_fetched_at=at,
    )
    _item(conversation, text="", at=at, attachments=[{"type": "location", "title": "Park"}], attachments_fetched_at=at)
    client.force_login(social_admin)

    page = _page(client, conversation)
    words = _words(page)

    assert "Edited " in words and "Original words" in page
    assert re.search(r"<details[^>]*>\s*<summary>What it said before the edit</summary>", page)
    assert "Button pressed" in words and "Reply to FiG's story" in words
    assert '<a href="https://lookaside.fbsbx.com/story/1" rel="noopener noreferrer">See the story</a>' in page
    assert "Unsent by the person" in words
    assert "Rated 4 out of 5" in words and "★★★★☆" in page
    assert '<a href="https://www.facebook.com/fig/reviews/1"' in page
    assert "evil.example" not in page  # not on Facebook or Instagram: no link at all
    assert "Video. Not kept: Meta refused (403)." in words
    assert "Location “Park”. Nothing to keep: Meta sends no file for this." in words


def test_the_page_shows_the_deadline_in_words(client, social_admin):
    conversation = _conversation(ago=DAY + HOUR)
    client.force_login(social_admin)
    words = _words(_page(client, conversation))
    assert f"Reply due by {when(conversation.due_at, year=True)}. 5 days left" in words


def test_an_answered_conversation_says_when_and_whether_in_time(client, social_admin):
    conversation = _conversation(ago=DAY, status=Conversation.Status.ANSWERED)
    Conversation.objects.filter(pk=conversation.pk).update(responded_at=timezone.now() - HOUR)
    conversation.refresh_from_db()
    client.force_login(social_admin)
    words = _words(_page(client, conversation))
    assert f"Answered on {when(conversation.responded_at, year=True)}. Answered on time" in words


# --- replying from here -----------------------------------------------------------------------


def test_a_reply_is_queued_then_sent_through_the_send_api(
    client, social_admin, fake, django_capture_on_commit_callbacks
):
    conversation = _conversation(ago=2 * HOUR)
    client.force_login(social_admin)
    page = _page(client, conversation)
    assert "Send the reply" in page and "It goes as: <strong>Message</strong>" in page
    assert 'type="hidden" name="send_as" value="message"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("social:reply", args=[conversation.pk]), {"send_as": "message", "text": "The group is on Tuesday."}
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("social:message", args=[conversation.pk])
    assert _messages(response) == ["Your reply is being sent."]
    assert fake.problems == []
    [request] = fake.to("messages")
    assert request.fields["recipient"] == f'{{"id": "{conversation.sender_id}"}}'
    assert request.fields["messaging_type"] == "RESPONSE"
    assert '"The group is on Tuesday."' in request.fields["message"]
    reply = conversation.messages.get(from_fig=True)
    assert (reply.event, reply.sending, reply.by, reply.platform_id) == (
        "reply",
        "sent",
        social_admin,
        fake.message_ids[0],
    )
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ANSWERED
    assert AuditEvent.objects.filter(action="inbox.reply_queued", actor=social_admin).count() == 1
    words = _words(_page(client, conversation))
    assert "FiG (Sol Admin) · Sent from FiG Safety: Message" in words and "The group is on Tuesday." in words


def test_a_comment_offers_a_public_and_a_private_reply(client, social_admin, fake, django_capture_on_commit_callbacks):
    conversation = _conversation(ago=HOUR, platform=Platform.FACEBOOK, kind=Conversation.Kind.COMMENT)
    client.force_login(social_admin)
    page = _page(client, conversation)
    assert '<legend class="label">How to send it</legend>' in page
    assert 'value="public_reply"' in page and 'value="private_reply"' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("social:reply", args=[conversation.pk]), {"send_as": "public_reply", "text": "Thank you!"})
    comment = conversation.messages.get(from_fig=False)
    assert [r.path for r in fake.to("comments")] == [f"/v21.0/{comment.platform_id}/comments"]
    assert conversation.messages.get(from_fig=True).sending == "sent"


def test_a_conversation_quiet_for_eight_days_says_why_and_offers_no_send_button(client, social_admin, fake):
    conversation = _conversation(ago=8 * DAY)
    client.force_login(social_admin)
    page = _page(client, conversation)
    words = _words(page)
    assert "more than seven days ago: Meta lets a page message someone only within seven days" in words
    assert "Send the reply" not in page and 'action="' + reverse("social:reply", args=[conversation.pk]) not in page
    assert "Record the response" in page  # the reply made another way is recorded instead

    before = _snapshot()
    refused = client.post(reverse("social:reply", args=[conversation.pk]), {"send_as": "human_agent", "text": "Sorry!"})
    assert refused.status_code == 400
    assert "more than seven days ago" in refused.content.decode()
    assert refused.context["respond_form"].initial == {"text": "Sorry!"}  # kept, to record it once sent elsewhere
    assert _snapshot() == before and fake.requests == []


def test_a_refused_reply_keeps_the_text_and_a_private_one_can_be_confirmed(client, social_admin, fake):
    conversation = _conversation(ago=HOUR)
    client.force_login(social_admin)
    url = reverse("social:reply", args=[conversation.pk])
    text = "Call Jo on 07700 900123 about it."

    refused = client.post(url, {"send_as": "message", "text": text})

    assert refused.status_code == 400
    page = html.unescape(refused.content.decode())
    assert "If it names only the person you are writing to, tick the box to say so." in page
    assert f">\n{text}</textarea>" in page
    assert "I have checked it: it names only the person I am writing to" in page
    assert not conversation.messages.filter(from_fig=True).exists()

    confirmed = client.post(url, {"send_as": "message", "text": text, "names_checked": "on"})
    assert confirmed.status_code == 302
    assert conversation.messages.get(from_fig=True).text == text


def test_a_failed_send_keeps_the_text_and_can_be_tried_again(
    client, social_admin, settings, django_capture_on_commit_callbacks
):
    conversation = _conversation(ago=HOUR)
    client.force_login(social_admin)
    with page_graph(settings) as fake, django_capture_on_commit_callbacks(execute=True):
        fake.fail_on("messages", message="(#100) Something went wrong", code=100)
        client.post(reverse("social:reply", args=[conversation.pk]), {"send_as": "message", "text": "See you soon."})
    reply = conversation.messages.get(from_fig=True)
    assert reply.sending == Message.Sending.FAILED

    page = _page(client, conversation)
    words = _words(page)
    assert "Not sent" in words and "Nothing was sent; the text is kept below." in words
    assert "Try again to send this reply" in words
    put_back = f"?put_back={reply.pk}#reply_form"
    assert put_back in page
    refilled = _page(client, conversation, put_back=reply.pk)
    assert ">\nSee you soon.</textarea>" in refilled

    with page_graph(settings) as fake, django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("social:reply_again", args=[conversation.pk, reply.pk]))
    assert again.status_code == 302 and _messages(again) == ["Your reply is being sent again."]
    assert len(fake.to("messages")) == 1 and fake.problems == []
    reply.refresh_from_db()
    assert reply.sending == Message.Sending.SENT


def test_try_again_is_404_for_another_conversations_reply(client, world, social_admin):
    client.force_login(social_admin)
    url = reverse("social:reply_again", args=[world.other.pk, world.failed.pk])
    assert client.post(url).status_code == 404
    world.failed.refresh_from_db()
    assert world.failed.sending == Message.Sending.FAILED


# --- saved replies in the reply box -----------------------------------------------------------


def test_a_saved_reply_is_inserted_without_javascript_after_what_was_typed(client, social_admin, fake):
    conversation = _conversation(ago=HOUR, sender_name="Sam Parent")
    saved = SavedReply.objects.create(
        title="Opening times", text="Hello {first_name}, we are open 9 to 5.", created_by=social_admin
    )
    SavedReply.objects.create(title="Old", text="Retired words", is_active=False, created_by=social_admin)
    client.force_login(social_admin)
    page = _page(client, conversation)
    assert '<option value="%d" data-text="Hello Sam, we are open 9 to 5.">Opening times</option>' % saved.pk in page
    assert "Retired words" not in page
    assert 'formaction="%s"' % reverse("social:reply_insert", args=[conversation.pk]) in page
    assert 'src="/static/js/inbox_reply.js"' in page

    response = client.post(
        reverse("social:reply_insert", args=[conversation.pk]),
        {"saved": saved.pk, "text": "Thanks for asking.", "send_as": "message"},
    )

    assert response.status_code == 200
    assert ">\nThanks for asking.\n\nHello Sam, we are open 9 to 5.</textarea>" in html.unescape(
        response.content.decode()
    )
    assert not conversation.messages.filter(from_fig=True).exists()  # nothing is sent until they send it
    conversation.refresh_from_db()
    assert conversation.replying_by == social_admin  # starting to reply this way counts


def test_inserting_without_choosing_says_so_and_keeps_the_text(client, social_admin, fake):
    conversation = _conversation(ago=HOUR)
    SavedReply.objects.create(title="Thanks", text="Thank you!", created_by=social_admin)
    client.force_login(social_admin)
    response = client.post(reverse("social:reply_insert", args=[conversation.pk]), {"saved": "", "text": "Mine"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose a saved reply to insert." in page and ">\nMine</textarea>" in page


# --- working together -------------------------------------------------------------------------


def test_notes_are_added_listed_and_audited(client, social_admin, helper):
    conversation = _conversation(passed_to=helper)
    client.force_login(helper)
    response = client.post(reverse("social:note", args=[conversation.pk]), {"text": "I rang Sam's school."})
    assert response.status_code == 302 and _messages(response) == ["Your note is added."]
    note = ConversationNote.objects.get()
    assert (note.conversation, note.by, note.text) == (conversation, helper, "I rang Sam's school.")
    assert AuditEvent.objects.filter(action="inbox.noted", actor=helper, target_id=str(conversation.pk)).exists()
    client.force_login(social_admin)
    words = _words(_page(client, conversation))
    assert "Notes for staff I rang Sam's school. Hal Helper," in words

    empty = client.post(reverse("social:note", args=[conversation.pk]), {"text": "  "})
    assert empty.status_code == 400 and "Write the note." in empty.content.decode()
    assert ConversationNote.objects.count() == 1


def test_the_pass_on_history_keeps_every_note(client, social_admin, helper, django_capture_on_commit_callbacks):
    colleague = factories.staff_user("staff", email="cat@example.org", full_name="Cat Colleague")
    conversation = _conversation()
    client.force_login(social_admin)
    url = reverse("social:pass_on", args=[conversation.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"to": helper.pk, "note": "You ran the group: can you answer?"}).status_code == 302
        assert client.post(url, {"to": colleague.pk, "note": "Hal is away, over to you."}).status_code == 302
    assert PassOn.objects.filter(conversation=conversation).count() == 2
    assert len(mail.outbox) == 2

    words = _words(_page(client, conversation))

    first = words.index("To Hal Helper by Sol Admin You ran the group: can you answer?")
    second = words.index("To Cat Colleague by Sol Admin Hal is away, over to you.")
    assert first < second


def test_someone_else_replying_is_warned_for_five_minutes(client, social_admin, other_admin, fake):
    conversation = _conversation()
    client.force_login(other_admin)
    assert client.post(reverse("social:replying", args=[conversation.pk])).status_code == 204
    client.force_login(social_admin)

    assert "Ola Other started replying less than a minute ago." in _words(_page(client, conversation))
    Conversation.objects.filter(pk=conversation.pk).update(replying_at=timezone.now() - 4 * timedelta(minutes=1))
    assert "Ola Other started replying 4 minutes ago." in _words(_page(client, conversation))
    Conversation.objects.filter(pk=conversation.pk).update(replying_at=timezone.now() - 6 * timedelta(minutes=1))
    assert "started replying" not in _page(client, conversation)
    client.force_login(other_admin)
    assert "started replying" not in _page(client, conversation)  # not warned about themselves


def test_the_reply_box_tells_the_server_through_its_script(client, social_admin, fake):
    conversation = _conversation()
    client.force_login(social_admin)
    page = _page(client, conversation)
    assert f'data-replying-url="{reverse("social:replying", args=[conversation.pk])}"' in page
    assert "<script>" not in page  # the Content-Security-Policy allows no inline script


# --- attachments ------------------------------------------------------------------------------


def test_a_photo_is_shown_through_the_access_checked_view_and_each_view_is_audited(client, world, ceo):
    client.force_login(ceo)
    url = reverse("social:attachment", args=[world.conversation.pk, world.photo.pk, 0])
    page = _page(client, world.conversation)
    assert f'<img src="{url}" alt="Photo sent by Sam Parent" loading="lazy">' in page

    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response) == PNG if response.streaming else response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'inline; filename="fig-inbox-{world.photo.pk}-1.png"'
    assert response["Cache-Control"] == "private, no-store"
    [event] = AuditEvent.objects.filter(action="inbox.attachment_viewed")
    assert (event.actor, event.target_type, event.target_id) == (ceo, "social.message", str(world.photo.pk))
    assert event.details == {"conversation": world.conversation.pk, "index": 0, "download": False}


def test_any_other_file_is_a_download(client, social_admin):
    conversation = _conversation()
    blob = vault_save(PDF, folder="inbox")
    item = _item(
        conversation,
        text="",
        at=timezone.now(),
        attachments=[
            {
                "type": "file",
                "title": "Leaflet",
                "blob": blob.name,
                "key_id": blob.key_id,
                "size": blob.size,
                "content_type": "application/pdf",
            }
        ],
        attachments_fetched_at=timezone.now(),
    )
    client.force_login(social_admin)
    url = reverse("social:attachment", args=[conversation.pk, item.pk, 0])
    assert f'<a href="{url}" download>Download the file “Leaflet”</a>' in _page(client, conversation)

    response = client.get(url)

    assert response.status_code == 200 and response.content == PDF
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="fig-inbox-{item.pk}-1.pdf"'
    assert AuditEvent.objects.get(action="inbox.attachment_viewed").details["download"] is True


def test_attachments_of_other_conversations_or_not_kept_are_404(client, world, social_admin):
    client.force_login(social_admin)
    pk = world.conversation.pk
    kept_elsewhere = Message.objects.filter(pk=world.other_item.pk)
    kept_elsewhere.update(attachments=world.photo.attachments)
    for url in [
        reverse("social:attachment", args=[pk, world.other_item.pk, 0]),  # another conversation's message
        reverse("social:attachment", args=[pk, world.photo.pk, 1]),  # no such attachment
        reverse("social:attachment", args=[pk, world.failed.pk, 0]),  # a message without attachments
        reverse("social:attachment", args=[999999, world.photo.pk, 0]),
    ]:
        assert client.get(url).status_code == 404, url
    assert not AuditEvent.objects.filter(action="inbox.attachment_viewed").exists()


# --- reading it, and its cost ----------------------------------------------------------------


def test_the_ceo_sees_the_thread_notes_and_pass_ons_with_no_forms(client, world, ceo, social_admin, helper):
    ConversationNote.objects.create(conversation=world.conversation, text="A note for the team", by=social_admin)
    PassOn.objects.create(conversation=world.conversation, to=helper, note="Over to Hal", by=social_admin)
    client.force_login(ceo)
    page = _page(client, world.conversation)
    assert "Lovely to see Ava Demo" in page and "A note for the team" in page and "Over to Hal" in page
    assert "<form" not in page.split("<main", 1)[1]
    assert "Try again" not in page and "put_back" not in page


def _busy(conversation: Conversation, count: int, admin: User, helper: User) -> None:
    """`count` more messages each way, each with an attachment, and as many notes and pass-ons."""
    blob = vault_save(PNG, folder="inbox")
    start = conversation.received_at
    for n in range(count):
        at = start + n * timedelta(minutes=2)
        _item(
            conversation,
            text=f"Question {n}",
            at=at,
            attachments=[
                {"type": "image", "blob": blob.name, "key_id": blob.key_id, "content_type": "image/png", "size": 1}
            ],
            attachments_fetched_at=at,
            edited_at=at,
            earlier_texts=[{"text": "x", "until": at.isoformat()}],
        )
        _item(
            conversation,
            text=f"Answer {n}",
            at=at + timedelta(minutes=1),
            from_fig=True,
            event=Message.Event.REPLY,
            send_as=Message.SendAs.MESSAGE,
            sending=Message.Sending.SENT,
            by=admin,
            platform_id=f"mid.answer-{conversation.pk}-{n}",
        )
        ConversationNote.objects.create(conversation=conversation, text=f"Note {n}", by=admin)
        PassOn.objects.create(conversation=conversation, to=helper, note=f"Pass {n}", by=admin)


@pytest.mark.parametrize("count", [1, 30])
def test_the_page_needs_the_same_number_of_queries_whatever_the_number_of_messages(
    client, social_admin, helper, fake, django_assert_num_queries, count
):
    conversation = _conversation(ago=2 * HOUR, passed_to=helper)
    SavedReply.objects.create(title="Thanks", text="Thank you!", created_by=social_admin)
    _busy(conversation, count, social_admin, helper)
    client.force_login(social_admin)
    _page(client, conversation)  # the first request creates the usersession row
    # + the conversation with its people; its messages with who sent them; takedowns; the families it names;
    #   the history (takedown ids, audit events); the reply options (their last message); the saved replies;
    #   pass-ons with both people; notes with their writer; the assign and pass-on forms' choices.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 12):
        response = client.get(reverse("social:message", args=[conversation.pk]))
    assert response.status_code == 200
    assert len(response.context["thread"]) == 1 + 2 * count
