"""Every recorded Meta payload (tests/social/inbox/payloads/) through the signed webhook: what it stores,
and that its redelivery stores nothing more. Then what ingestion does with bad input, and that a delivery
is never dropped: a large one is stored as it came and ingested by a task, one whose task was lost by the
sweep, one that fails in the request by the task."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.utils import timezone

from social.inbox import ingest
from social.models import Conversation, Message, WebhookDelivery
from staff.models import AuditEvent
from tests.social import payloads as p

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads"
FIXTURES = sorted(path.stem for path in PAYLOADS.glob("*.json"))

PAGE_POST = "104000000000001_901097836652708"
IG_DM = "dm:6400000000000001"


def _id(platform_id: str) -> str:
    """A postback without a mid gets an id made from who pressed what, when: "postback-" and 40 hex digits."""
    made = platform_id.startswith("postback-") and len(platform_id) == 49
    return "postback-<made>" if made else platform_id


# fixture: (fixtures posted before it, messages {platform_id: (event, text, from_fig, removed_how)},
#           conversations {(platform, thread): status})
EXPECTED: dict[str, tuple[tuple[str, ...], dict, dict]] = {
    "instagram_comment": (
        (),
        {
            "17800000000000001": ("comment", "Great day out!", False, ""),
            "17800000000000002": ("comment", "Agreed!", False, ""),
            "17800000000000003": ("echo", "Thank you!", True, ""),  # FiG's reply to the first
        },
        {
            ("instagram", "comments:17900000000000100:17841400000000099"): "answered",
            ("instagram", "comments:17900000000000100:17841400000000098"): "open",
        },
    ),
    "instagram_echo": (
        ("instagram_text",),
        {
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx": ("message", "Hi FiG!", False, ""),
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAECHO": ("echo", "Hello! Yes, of course.", True, ""),
        },
        {("instagram", IG_DM): "answered"},
    ),
    "instagram_edit": (
        ("instagram_text",),
        {"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx": ("message", "Hi FiG, hello!", False, "")},
        {("instagram", IG_DM): "open"},
    ),
    "instagram_live_comment": (
        (),
        {"17800000000000010": ("comment", "Hello from Leeds!", False, "")},
        {("instagram", "comments:17900000000000200:17841400000000097"): "open"},
    ),
    "instagram_mention": (
        (),
        {"17800000000000020": ("mention", "", False, ""), "17900000000000301": ("mention", "", False, "")},
        {("instagram", "mention:17800000000000020"): "open", ("instagram", "mention:17900000000000301"): "open"},
    ),
    "instagram_story_mention": (
        (),
        {"aWdfZAG1faXRlbToxOklHTWVzc2FnZASTORYMENTION": ("story_mention", "", False, "")},
        {("instagram", IG_DM): "open"},
    ),
    "instagram_story_reply": (
        (),
        {
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZASTORYREPLY": ("story_reply", "Looks like a great day!", False, ""),
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZASTORYREPLY2": ("story_reply", "Again!", False, ""),
        },
        {("instagram", IG_DM): "open"},
    ),
    "instagram_text": (
        (),
        {"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx": ("message", "Hi FiG!", False, "")},
        {("instagram", IG_DM): "open"},
    ),
    "instagram_unsend": (
        ("instagram_text",),
        {"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx": ("message", "Hi FiG!", False, "unsent")},
        {("instagram", IG_DM): "open"},
    ),
    "messenger_attachments": (
        (),
        {
            "m_attach_image": ("message", "Photos from Saturday", False, ""),
            "m_attach_file": ("message", "", False, ""),
            "m_attach_audio": ("message", "", False, ""),
            "m_attach_sticker": ("message", "", False, ""),
            "m_attach_share": ("message", "Is this you?", False, ""),
        },
        {("messenger", "dm:2400000000000001"): "open"},
    ),
    "messenger_echo": (
        (),
        {"m_echo_0001": ("echo", "Thanks, we will get back to you today.", True, "")},
        {("messenger", "dm:2400000000000001"): "answered"},  # FiG wrote first: nobody is waiting
    ),
    "messenger_edit": (
        ("messenger_text",),
        {
            "m_text_0001": ("message", "Hello, when is the next family fun day?", False, ""),
            "m_text_0002": ("message", "And can grandparents come too?", False, ""),
        },
        {("messenger", "dm:2400000000000001"): "open"},
    ),
    "messenger_ignored": ((), {}, {}),
    "messenger_postback_get_started": (
        (),
        {
            "m_postback_0001": ("postback", "Get Started (GET_STARTED)", False, ""),
            "postback-<made>": ("postback", "Opening times (OPENING_TIMES)", False, ""),
        },
        {("messenger", "dm:2400000000000001"): "open"},
    ),
    "messenger_quick_reply": (
        (),
        {
            "m_quick_0001": ("message", "Yes please", False, ""),
            "m_quick_0002": ("message", "(NEWSLETTER_NO)", False, ""),
        },
        {("messenger", "dm:2400000000000001"): "open"},
    ),
    "messenger_text": (
        (),
        {
            "m_text_0001": ("message", "Hello, when is the next family day?", False, ""),
            "m_text_0002": ("message", "And can grandparents come too?", False, ""),
        },
        {("messenger", "dm:2400000000000001"): "open"},
    ),
    "messenger_unsend": (
        ("messenger_text",),
        {
            "m_text_0001": ("message", "Hello, when is the next family day?", False, ""),
            "m_text_0002": ("message", "And can grandparents come too?", False, "unsent"),
        },
        {("messenger", "dm:2400000000000001"): "open"},
    ),
    "mixed_with_malformed": (
        (),
        {
            "m_mixed_0001": ("message", "First, fine", False, ""),
            "m_mixed_0003": ("message", "Third, fine", False, ""),
            "901097836652708_903438993086000": ("comment", "A comment in the same delivery", False, ""),
        },
        {
            ("messenger", "dm:2400000000000001"): "open",
            ("facebook", f"comments:{PAGE_POST}:3100000000000001"): "open",
        },
    ),
    "page_comment_add": (
        (),
        {
            "901097836652708_903438993085259": ("comment", "Lovely photos from the picnic!", False, ""),
            "901097836652708_903438993085300": ("comment", "Same here", False, ""),
        },
        {
            ("facebook", f"comments:{PAGE_POST}:3100000000000001"): "open",
            ("facebook", f"comments:{PAGE_POST}:3100000000000002"): "open",
        },
    ),
    "page_comment_edited": (
        ("page_comment_add",),
        {
            "901097836652708_903438993085259": ("comment", "Lovely photos from the summer picnic!", False, ""),
            "901097836652708_903438993085300": ("comment", "Same here", False, ""),
        },
        {
            ("facebook", f"comments:{PAGE_POST}:3100000000000001"): "open",
            ("facebook", f"comments:{PAGE_POST}:3100000000000002"): "open",
        },
    ),
    # Hidden and shown again, a comment never seen: nothing to keep (test_a_hidden_comment_... below has one).
    "page_comment_hide": ((), {}, {}),
    "page_comment_remove": (
        ("page_comment_add",),
        {
            "901097836652708_903438993085259": ("comment", "Lovely photos from the picnic!", False, "removed"),
            "901097836652708_903438993085300": ("comment", "Same here", False, ""),
        },
        {
            ("facebook", f"comments:{PAGE_POST}:3100000000000001"): "open",
            ("facebook", f"comments:{PAGE_POST}:3100000000000002"): "open",
        },
    ),
    "page_mention": (
        (),
        {
            "3100000000000006_98722536423179": ("mention", "Great work by FiG Safety this weekend", False, ""),
            "7363534231324_3754798971271444": ("mention", "Ask FiG Safety, they know", False, ""),
        },
        {
            ("facebook", "mention:3100000000000006_98722536423179"): "open",
            ("facebook", "mention:7363534231324_3754798971271444"): "open",
        },
    ),
    "page_own_reply": (
        ("page_comment_add",),  # FiG's reply to Alex's comment answers Alex; its own post answers nobody
        {
            "901097836652708_903438993085259": ("comment", "Lovely photos from the picnic!", False, ""),
            "901097836652708_903438993085300": ("comment", "Same here", False, ""),
            "901097836652708_903438993085999": ("echo", "Thank you, Alex!", True, ""),
        },
        {
            ("facebook", f"comments:{PAGE_POST}:3100000000000001"): "answered",
            ("facebook", f"comments:{PAGE_POST}:3100000000000002"): "open",
        },
    ),
    "page_ratings": (
        (),
        {
            "904801129604590": ("review", "Friendly and well organised.", False, ""),
            "904801129604591": ("review", "It was fine.", False, ""),
            "904801129604592": ("review", "Nobody answered my message.", False, ""),  # an edit, never seen
            "904801129604592_904802532937783": ("echo", "Sorry about that, we have replied now.", True, ""),
        },
        {
            ("facebook", "review:904801129604590"): "open",
            ("facebook", "review:904801129604591"): "open",
            ("facebook", "review:904801129604592"): "answered",
        },
    ),
    "page_visitor_post": (
        (),
        {
            "104000000000001_930145403745849": ("visitor_post", "Who do I ask about volunteering?", False, "removed"),
            "104000000000001_930145403745900": ("visitor_post", "Our team at the fun run", False, ""),
        },
        {
            ("facebook", "visitor_post:104000000000001_930145403745849"): "open",
            ("facebook", "visitor_post:104000000000001_930145403745900"): "open",
        },
    ),
}


@pytest.fixture(autouse=True)
def meta(settings):
    settings.FIG_META_APP_SECRET = p.APP_SECRET


def raw(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def stored() -> dict:
    """Every row ingestion writes, as it is."""
    return {
        "messages": list(Message.objects.order_by("pk").values()),
        "conversations": list(Conversation.objects.order_by("pk").values()),
        "audit events": AuditEvent.objects.count(),
        "deliveries": WebhookDelivery.objects.count(),
    }


def test_every_payload_has_its_expectation():
    assert sorted(EXPECTED) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_each_payload_is_stored_as_expected_and_once(client, name):
    before, messages, conversations = EXPECTED[name]
    for earlier in before:
        assert p.post(client, raw(earlier)).status_code == 200

    response = p.post(client, raw(name))

    assert response.status_code == 200 and response.content == b"EVENT_RECEIVED"
    got = {_id(m.platform_id): (m.event, m.text, m.from_fig, m.removed_how) for m in Message.objects.all()}
    assert got == messages
    assert {(c.platform, c.thread): c.status for c in Conversation.objects.all()} == conversations
    for message in Message.objects.select_related("conversation"):
        assert message.conversation.platform == message.platform
        assert (message.event == Message.Event.ECHO) == message.from_fig
        assert (message.removed_at is not None) == bool(message.removed_how)

    first = stored()
    assert p.post(client, raw(name)).status_code == 200
    assert stored() == first


def test_an_edit_keeps_what_the_message_said_before(client):
    p.post(client, raw("messenger_text"))
    p.post(client, raw("messenger_edit"))
    message = Message.objects.get(platform_id="m_text_0001")
    assert message.earlier_texts[0]["text"] == "Hello, when is the next family day?"
    assert message.edited_at is not None
    # The conversation shows the person's latest message, which was not the one edited.
    assert message.conversation.text == "And can grandparents come too?"


def test_a_hidden_comment_is_marked_hidden_and_shown_again_when_unhidden(client):
    payload = json.loads(raw("page_comment_hide"))
    hide, unhide = payload["entry"][0]["changes"]
    add = json.loads(json.dumps(hide))
    add["value"]["verb"], add["value"]["created_time"] = "add", 1792487000
    deliver = lambda *changes: p.post(  # noqa: E731
        client, {"object": "page", "entry": [{**payload["entry"][0], "changes": list(changes)}]}
    )
    assert deliver(add).status_code == 200
    assert deliver(hide).status_code == 200
    assert Message.objects.get().removed_how == Message.Removed.HIDDEN
    assert deliver(unhide).status_code == 200
    message = Message.objects.get()
    assert message.removed_how == "" and message.removed_at is None


def test_the_attachments_are_kept_with_their_kind_and_only_https_links(client):
    p.post(client, raw("messenger_attachments"))
    kinds = {m.platform_id: [(a["type"], bool(a["url"])) for a in m.attachments] for m in Message.objects.all()}
    assert kinds == {
        "m_attach_image": [("image", True), ("image", False)],  # the second came over http
        "m_attach_file": [("file", True)],
        "m_attach_audio": [("audio", True)],
        "m_attach_sticker": [("sticker", True)],
        "m_attach_share": [("share", True), ("fallback", True)],
    }


# --- bad input ----------------------------------------------------------------------------------


def _messages(*items: dict) -> dict:
    return {"object": "page", "entry": [{"id": p.PAGE_ID, "time": 1792486800500, "messaging": list(items)}]}


def _item(mid: str, text: str = "Hello", sender: str = "2400000000000001") -> dict:
    return {
        "sender": {"id": sender},
        "recipient": {"id": p.PAGE_ID},
        "timestamp": 1792486800000,
        "message": {"mid": mid, "text": text},
    }


def test_a_malformed_item_is_skipped_and_the_others_stored(client):
    body = _messages(_item("m_ok_1"), {"sender": "not an object", "message": {"mid": "m_bad"}}, _item("m_ok_2"))
    assert p.post(client, body).status_code == 200
    assert set(Message.objects.values_list("platform_id", flat=True)) == {"m_ok_1", "m_ok_2"}


def test_nul_bytes_are_removed_from_texts_and_ids(client):
    body = p.body(_messages(_item("m_nul\u0000_1", text="Hel\u0000lo"), _item("m_ok")))
    assert b"\\u0000" in body  # as JSON carries it: a raw NUL byte is not JSON at all
    assert p.post(client, body).status_code == 200
    assert dict(Message.objects.values_list("platform_id", "text")) == {"m_nul_1": "Hello", "m_ok": "Hello"}


def test_a_raw_nul_byte_makes_the_body_unreadable(client):
    body = p.body(_messages(_item("m_raw"))).replace(b'"Hello"', b'"Hel\x00lo"')
    assert p.post(client, body).status_code == 400
    assert not Message.objects.exists()


@pytest.mark.parametrize("field", ["mid", "sender"])
def test_an_item_with_an_id_over_200_characters_is_skipped_and_the_others_stored(client, field):
    long = "9" * 201
    bad = _item(long) if field == "mid" else _item("m_long_sender", sender=long)
    assert p.post(client, _messages(_item("m_before"), bad, _item("m_after"))).status_code == 200
    assert set(Message.objects.values_list("platform_id", flat=True)) == {"m_before", "m_after"}
    assert Conversation.objects.get().sender_id == "2400000000000001"


def test_an_id_of_200_characters_is_kept(client):
    assert p.post(client, _messages(_item("7" * 200))).status_code == 200
    assert Message.objects.get().platform_id == "7" * 200


def test_lone_surrogates_are_removed_and_pairs_kept(client):
    body = _messages(_item("m_lone\ud800", text="Hi \udc00there \ud83d\ude00"))
    encoded = json.dumps(body).encode()  # ensure_ascii: the surrogates travel as \\ud800 escapes
    assert b"\\ud800" in encoded
    assert p.post(client, encoded).status_code == 200
    message = Message.objects.get()
    assert message.platform_id == "m_lone"
    assert message.text == "Hi there \U0001f600"


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b"\xff\xfe{}", b'["a list"]', b'{"object": "page"}', b"[" * 65 + b"]" * 65],
    ids=["not-json", "not-utf8", "a-list", "no-entries", "lists-65-deep"],
)
def test_a_body_that_is_not_a_delivery_is_refused_with_400(client, body):
    assert p.post(client, body).status_code == 400
    assert not Message.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(("levels", "status", "stored"), [(64, 200, 1), (65, 400, 0)])
def test_a_delivery_is_read_up_to_64_levels_deep(client, levels, status, stored):
    deep = _messages(_item("m_deep"))
    nest: object = "x"
    for _ in range(levels - 6):  # the delivery, its entries, an entry, its items, an item, its message: 6
        nest = [nest]
    deep["entry"][0]["messaging"][0]["message"]["metadata"] = nest
    assert p.post(client, deep).status_code == status
    assert Message.objects.count() == stored


def test_a_deeply_nested_body_is_refused_fast(client):
    body = b'{"object": "page", "entry": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    started = time.perf_counter()
    response = p.post(client, body)
    took = time.perf_counter() - started
    assert response.status_code == 400
    assert took < 0.5, f"{took:.2f} s"


def test_a_bad_signature_is_refused_with_403_and_nothing_stored(client):
    response = p.post(client, raw("messenger_text"), secret="not-the-app-secret")
    assert response.status_code == 403
    assert not Message.objects.exists() and not WebhookDelivery.objects.exists()


# --- nothing dropped ------------------------------------------------------------------------------


def _large(count: int) -> dict:
    """`count` messages from three people and an edit of the first."""
    items = [_item(f"m_large_{n}", text=f"Message {n}", sender=f"24000000000000{n % 3}") for n in range(count)]
    edit = {
        "sender": {"id": "240000000000000"},
        "recipient": {"id": p.PAGE_ID},
        "timestamp": 1792486900000,
        "message_edit": {"mid": "m_large_0", "text": "Message 0, edited"},
    }
    return _messages(*items, edit)


def test_a_delivery_over_the_inline_limit_is_stored_then_ingested_by_the_task(
    client, settings, django_capture_on_commit_callbacks
):
    settings.FIG_WEBHOOK_INLINE_EVENTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        response = p.post(client, _large(5))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.events == 6 and delivery.ingested_at is not None
    assert bytes(delivery.body) == b""  # the messages are what is kept
    assert Message.objects.count() == 5 and Conversation.objects.count() == 3
    assert Message.objects.get(platform_id="m_large_0").text == "Message 0, edited"
    assert not Message.objects.filter(flagged_at__isnull=True).exists()  # checked for names by flag_messages


def test_a_delivery_whose_task_was_lost_is_ingested_by_the_sweep(client, settings, django_capture_on_commit_callbacks):
    settings.FIG_WEBHOOK_INLINE_EVENTS = 3
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the task
        assert p.post(client, _large(5)).status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.ingested_at is None and bytes(delivery.body) != b""
    assert not Message.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.resume_deliveries(timezone.now() + ingest.REQUEUE_AFTER - timedelta(seconds=5)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.resume_deliveries(timezone.now() + ingest.REQUEUE_AFTER + timedelta(seconds=1)) == 1
    delivery.refresh_from_db()
    assert delivery.ingested_at is not None and bytes(delivery.body) == b""
    assert Message.objects.count() == 5
    assert ingest.resume_deliveries(timezone.now() + timedelta(days=1)) == 0  # done: never again


def test_a_delivery_whose_ingest_stopped_part_of_the_way_is_ingested_again(
    client, settings, django_capture_on_commit_callbacks
):
    settings.FIG_WEBHOOK_INLINE_EVENTS = 3
    with django_capture_on_commit_callbacks(execute=False):
        p.post(client, _large(5))
    started = timezone.now()
    WebhookDelivery.objects.update(ingest_started_at=started)  # the worker died after starting
    assert ingest.resume_deliveries(started + ingest.RETRY_AFTER - timedelta(seconds=5)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.resume_deliveries(started + ingest.RETRY_AFTER + timedelta(seconds=1)) == 1
    assert WebhookDelivery.objects.get().ingested_at is not None
    assert Message.objects.count() == 5


def test_a_delivery_that_fails_in_the_request_is_kept_for_the_task(client, django_capture_on_commit_callbacks):
    failing = mock.patch.object(ingest, "event_ingest", side_effect=[None, RuntimeError("database hiccup")])
    with failing, django_capture_on_commit_callbacks(execute=False) as queued:
        response = p.post(client, raw("messenger_text"))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == raw("messenger_text") and delivery.ingested_at is None
    assert len(queued) == 1
    queued[0]()  # the task, run now
    assert set(Message.objects.values_list("platform_id", flat=True)) == {"m_text_0001", "m_text_0002"}


def test_a_delivery_larger_than_djangos_body_limit_is_taken(client, settings, django_capture_on_commit_callbacks):
    """Django refuses request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with 400; Meta batches
    thousands of events, and a refused delivery is retried and in the end dropped."""
    long_text = "We loved the family day. " * 400  # 10 kB
    payload = _messages(*(_item(f"m_big_{n}", text=long_text, sender=f"24000000000000{n % 3}") for n in range(300)))
    assert len(json.dumps(payload)) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with django_capture_on_commit_callbacks(execute=True):
        response = p.post(client, payload)
    assert response.status_code == 200
    assert Message.objects.count() == 300


def test_a_delivery_over_the_webhook_limit_is_refused_with_413(client, settings):
    settings.FIG_WEBHOOK_MAX_BYTES = 1024 * 1024
    payload = _messages(*(_item(f"m_big_{n}", text="x" * 10_000) for n in range(120)))
    response = p.post(client, payload)
    assert response.status_code == 413
    assert not Message.objects.exists() and not WebhookDelivery.objects.exists()
