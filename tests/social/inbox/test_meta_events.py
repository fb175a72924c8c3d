"""The Meta webhook parser: every event an administrator acts on, read from payloads in Meta's documented shapes.

Pure: no database. The payloads in `payloads/` were written for these tests from Meta's webhook references.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from social.inbox.meta import Attachment, Delivery, Event, load_body, parse_delivery

PAYLOADS = Path(__file__).parent / "payloads"
PAGE_ID = "104000000000001"
IG_ACCOUNT_ID = "17841400000000001"
PSID = "2400000000000001"  # a person's Page-scoped id
IGSID = "6400000000000001"  # a person's Instagram-scoped id
POST_ID = f"{PAGE_ID}_901097836652708"
COMMENT_ID = "901097836652708_903438993085259"
T = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)  # every payload's base time


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def raw(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def load(name: str) -> Delivery:
    return parse_delivery(load_body((PAYLOADS / f"{name}.json").read_bytes()))


def events(name: str) -> list[Event]:
    delivery = load(name)
    assert delivery.skipped == 0
    return delivery.events


def message(mid: str, text: str, **overrides: Any) -> dict[str, Any]:
    """One Messenger delivery with a single incoming message, for tests that shape it themselves."""
    event = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1792486800000}
    event["message"] = {"mid": mid, "text": text}
    event.update(overrides)
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": 1792486800500, "messaging": [event]}]}


# --- Messenger -----------------------------------------------------------------------------------


def test_it_reads_a_messenger_text_and_a_reply_to_it() -> None:
    assert events("messenger_text") == [
        Event(
            platform="messenger",
            kind="message",
            action="add",
            platform_id="m_text_0001",
            person_id=PSID,
            person_name="",
            text="Hello, when is the next family day?",
            at=T,
        ),
        Event(
            platform="messenger",
            kind="message",
            action="add",
            platform_id="m_text_0002",
            person_id=PSID,
            person_name="",
            text="And can grandparents come too?",
            at=at(60),
            reply_to="m_text_0001",
        ),
    ]


def test_it_keeps_a_quick_replys_text_and_falls_back_to_its_payload() -> None:
    first, second = events("messenger_quick_reply")
    assert (first.platform_id, first.text, first.kind, first.at) == ("m_quick_0001", "Yes please", "message", T)
    assert (second.platform_id, second.text, second.at) == ("m_quick_0002", "(NEWSLETTER_NO)", at(1))


def test_it_marks_an_echo_as_figs_own_and_names_the_recipient() -> None:
    assert events("messenger_echo") == [
        Event(
            platform="messenger",
            kind="message",
            action="add",
            platform_id="m_echo_0001",
            person_id=PSID,  # the person FiG wrote to, not the Page
            person_name="",
            text="Thanks, we will get back to you today.",
            at=T,
            from_fig=True,
        )
    ]


def test_it_reads_an_edited_message() -> None:
    assert events("messenger_edit") == [
        Event(
            platform="messenger",
            kind="message",
            action="edit",
            platform_id="m_text_0001",
            person_id=PSID,
            person_name="",
            text="Hello, when is the next family fun day?",
            at=at(120),
        )
    ]


def test_it_reads_an_unsent_message_as_removed() -> None:
    assert events("messenger_unsend") == [
        Event(
            platform="messenger",
            kind="message",
            action="remove",
            platform_id="m_text_0002",
            person_id=PSID,
            person_name="",
            text="",
            at=at(180),
        )
    ]


def test_it_reads_postbacks_and_gives_one_without_a_mid_a_stable_id() -> None:
    get_started, older = events("messenger_postback_get_started")
    assert get_started == Event(
        platform="messenger",
        kind="postback",
        action="add",
        platform_id="m_postback_0001",
        person_id=PSID,
        person_name="",
        text="Get Started (GET_STARTED)",
        at=T,
    )
    assert older.text == "Opening times (OPENING_TIMES)"
    assert (older.kind, older.action, older.person_id, older.at, older.from_fig) == (
        "postback",
        "add",
        PSID,
        at(5),
        False,
    )
    assert older.platform_id.startswith("postback-") and len(older.platform_id) <= 200
    assert events("messenger_postback_get_started")[1].platform_id == older.platform_id  # a redelivery matches

    other_payload = raw("messenger_postback_get_started")
    other_payload["entry"][0]["messaging"][1]["postback"]["payload"] = "SOMETHING_ELSE"
    assert parse_delivery(other_payload).events[1].platform_id != older.platform_id


def test_it_reads_every_kind_of_attachment() -> None:
    image, file, audio, sticker, share = events("messenger_attachments")
    assert image == Event(
        platform="messenger",
        kind="message",
        action="add",
        platform_id="m_attach_image",
        person_id=PSID,
        person_name="",
        text="Photos from Saturday",
        at=T,
        attachments=(
            Attachment(type="image", url="https://scontent.xx.fbcdn.net/v/t1.15752-9/photo1.jpg?oh=aa"),
            Attachment(type="image", url=""),  # plain http is not kept
        ),
    )
    assert (file.platform_id, file.text, file.at) == ("m_attach_file", "", at(1))
    assert file.attachments == (
        Attachment(
            type="file",
            url="https://cdn.fbsbx.com/v/t59.2708-21/consent_form.pdf?_nc_cat=1",
            title="consent_form.pdf",
        ),
    )
    assert audio.attachments == (Attachment(type="audio", url="https://cdn.fbsbx.com/v/t59.3654-21/voice.mp4"),)
    assert sticker.attachments == (
        Attachment(
            type="sticker",
            url="https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_n.png",
            title="sticker 369239263222822",
        ),
    )
    assert share.text == "Is this you?"
    assert share.attachments == (
        Attachment(type="share", url="https://www.facebook.com/somepage/posts/123", title="Summer picnic"),
        Attachment(type="fallback", url="https://example.org/story", title="News story"),
    )
    assert {event.kind for event in (image, file, audio, sticker, share)} == {"message"}


def test_it_ignores_reads_deliveries_reactions_optins_and_referrals_without_counting_them() -> None:
    assert load("messenger_ignored") == Delivery(events=[], skipped=0)


# --- Instagram Direct -----------------------------------------------------------------------------


def test_it_reads_an_instagram_message_its_edit_and_its_unsending() -> None:
    mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx"
    base = {"platform": "instagram", "kind": "message", "platform_id": mid, "person_id": IGSID, "person_name": ""}
    assert events("instagram_text") == [Event(**base, action="add", text="Hi FiG!", at=T)]
    assert events("instagram_edit") == [Event(**base, action="edit", text="Hi FiG, hello!", at=at(60))]
    assert events("instagram_unsend") == [Event(**base, action="remove", text="", at=at(90))]


def test_it_marks_an_instagram_echo_as_figs_own() -> None:
    assert events("instagram_echo") == [
        Event(
            platform="instagram",
            kind="message",
            action="add",
            platform_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAECHO",
            person_id=IGSID,
            person_name="",
            text="Hello! Yes, of course.",
            at=at(30),
            from_fig=True,
        )
    ]


def test_it_reads_a_story_reply_keeping_a_meta_url_or_else_the_story_id() -> None:
    on_meta, elsewhere = events("instagram_story_reply")
    assert on_meta == Event(
        platform="instagram",
        kind="story_reply",
        action="add",
        platform_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZASTORYREPLY",
        person_id=IGSID,
        person_name="",
        text="Looks like a great day!",
        at=T,
        story_link="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000001&signature=abc",
    )
    assert (elsewhere.kind, elsewhere.story_link, elsewhere.text) == ("story_reply", "17900000000000002", "Again!")


def test_it_reads_a_story_mention() -> None:
    url = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000003"
    assert events("instagram_story_mention") == [
        Event(
            platform="instagram",
            kind="story_mention",
            action="add",
            platform_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZASTORYMENTION",
            person_id=IGSID,
            person_name="",
            text="",
            at=T,
            attachments=(Attachment(type="story_mention", url=url),),
            story_link=url,
        )
    ]


# --- Instagram comments and mentions ----------------------------------------------------------------


def test_it_reads_instagram_comments_replies_and_figs_own_answer() -> None:
    media = "17900000000000100"
    assert events("instagram_comment") == [
        Event(
            platform="instagram",
            kind="comment",
            action="add",
            platform_id="17800000000000001",
            person_id="17841400000000099",
            person_name="a_commenter",
            text="Great day out!",
            at=at(5),  # Instagram gives only the entry's time
            parent_id=media,
        ),
        Event(
            platform="instagram",
            kind="comment",
            action="add",
            platform_id="17800000000000002",
            person_id="17841400000000098",
            person_name="another_parent",
            text="Agreed!",
            at=at(5),
            parent_id=media,
            reply_to="17800000000000001",
        ),
        Event(
            platform="instagram",
            kind="comment",
            action="add",
            platform_id="17800000000000003",
            person_id="",
            person_name="",
            text="Thank you!",
            at=at(5),
            from_fig=True,
            parent_id=media,
            reply_to="17800000000000001",
        ),
    ]


def test_it_reads_a_live_comment_as_a_comment() -> None:
    assert events("instagram_live_comment") == [
        Event(
            platform="instagram",
            kind="comment",
            action="add",
            platform_id="17800000000000010",
            person_id="17841400000000097",
            person_name="live_viewer",
            text="Hello from Leeds!",
            at=at(5),
            parent_id="17900000000000200",
        )
    ]


def test_it_reads_instagram_mentions_in_a_comment_and_in_a_caption() -> None:
    common = {"platform": "instagram", "kind": "mention", "action": "add", "person_id": "", "person_name": ""}
    assert events("instagram_mention") == [
        Event(**common, platform_id="17800000000000020", text="", at=at(5), parent_id="17900000000000300"),
        Event(**common, platform_id="17900000000000301", text="", at=at(5)),
    ]


# --- the Page feed ---------------------------------------------------------------------------------


def test_it_reads_a_page_comment_with_the_posts_permalink_and_a_reply_with_a_photo() -> None:
    assert events("page_comment_add") == [
        Event(
            platform="facebook",
            kind="comment",
            action="add",
            platform_id=COMMENT_ID,
            person_id="3100000000000001",
            person_name="Alex Commenter",
            text="Lovely photos from the picnic!",
            at=T,
            parent_id=POST_ID,
            permalink="https://www.facebook.com/figsafety/posts/pfbid02abc",
        ),
        Event(
            platform="facebook",
            kind="comment",
            action="add",
            platform_id="901097836652708_903438993085300",
            person_id="3100000000000002",
            person_name="Sam Parent",
            text="Same here",
            at=at(60),
            parent_id=POST_ID,  # still the post, not the comment replied to
            permalink="https://m.facebook.com/story.php?story_fbid=901097836652708&id=104000000000001",
            attachments=(Attachment(type="image", url="https://scontent.xx.fbcdn.net/v/t39.30808-6/reply.jpg"),),
            reply_to=COMMENT_ID,
        ),
    ]


def test_it_reads_an_edited_comment_in_the_older_flat_shape() -> None:
    assert events("page_comment_edited") == [
        Event(
            platform="facebook",
            kind="comment",
            action="edit",
            platform_id=COMMENT_ID,
            person_id="3100000000000001",  # a JSON number in the payload
            person_name="Alex Commenter",
            text="Lovely photos from the summer picnic!",
            at=at(300),
            parent_id=POST_ID,
        )
    ]


def test_it_reads_a_removed_comment_at_the_entrys_time() -> None:
    assert events("page_comment_remove") == [
        Event(
            platform="facebook",
            kind="comment",
            action="remove",
            platform_id=COMMENT_ID,
            person_id="3100000000000001",
            person_name="Alex Commenter",
            text="",
            at=at(600),
            parent_id=POST_ID,
        )
    ]


def test_it_reads_hiding_and_unhiding_a_comment() -> None:
    common = {
        "platform": "facebook",
        "kind": "comment",
        "platform_id": "901097836652708_903438993085400",
        "person_id": "3100000000000003",
        "person_name": "Spam Account",
        "text": "Win a free phone at example.com",
        "parent_id": POST_ID,
    }
    assert events("page_comment_hide") == [
        Event(**common, action="hide", at=at(700)),
        Event(**common, action="unhide", at=at(800)),
    ]


def test_it_reads_visitor_posts_and_ignores_reactions() -> None:
    status_id = f"{PAGE_ID}_930145403745849"
    visitor = {"platform": "facebook", "kind": "visitor_post", "person_id": "3100000000000004"}
    assert events("page_visitor_post") == [
        Event(
            **visitor,
            action="add",
            platform_id=status_id,
            person_name="Jo Visitor",
            text="Who do I ask about volunteering?",
            at=T,
            attachments=(
                Attachment(type="image", url="https://scontent.xx.fbcdn.net/v/t39.30808-6/visitor1.jpg"),
                Attachment(type="image", url="https://scontent.xx.fbcdn.net/v/t39.30808-6/visitor2.jpg"),
            ),
        ),
        Event(
            **visitor,
            action="add",
            platform_id=f"{PAGE_ID}_930145403745900",
            person_name="Jo Visitor",
            text="Our team at the fun run",
            at=at(10),
            attachments=(Attachment(type="image", url="https://scontent.xx.fbcdn.net/v/t39.30808-6/visitor3.jpg"),),
        ),
        Event(**visitor, action="remove", platform_id=status_id, person_name="", text="", at=at(20)),
    ]


def test_it_keeps_figs_own_reply_and_post_marked_as_figs() -> None:
    assert events("page_own_reply") == [
        Event(
            platform="facebook",
            kind="comment",
            action="add",
            platform_id="901097836652708_903438993085999",
            person_id="",
            person_name="",
            text="Thank you, Alex!",
            at=at(900),
            from_fig=True,
            parent_id=POST_ID,
            permalink="https://www.facebook.com/figsafety/posts/pfbid02abc",
            reply_to=COMMENT_ID,
        ),
        Event(
            platform="facebook",
            kind="visitor_post",
            action="add",
            platform_id=f"{PAGE_ID}_930145403746000",
            person_id="",
            person_name="",
            text="Family day is on Saturday!",
            at=at(1000),
            from_fig=True,
        ),
    ]


def test_it_reads_page_mentions_in_a_post_and_in_a_comment() -> None:
    assert events("page_mention") == [
        Event(
            platform="facebook",
            kind="mention",
            action="add",
            platform_id="3100000000000006_98722536423179",
            person_id="3100000000000006",
            person_name="Chris Poster",
            text="Great work by FiG Safety this weekend",
            at=T,
        ),
        Event(
            platform="facebook",
            kind="mention",
            action="add",
            platform_id="7363534231324_3754798971271444",
            person_id="3100000000000007",
            person_name="Pat Commenter",
            text="Ask FiG Safety, they know",
            at=at(60),
            parent_id="3100000000000007_7363534231324",
        ),
    ]


def test_it_reads_reviews_their_stars_and_figs_answer_and_ignores_likes() -> None:
    review = {"platform": "facebook", "kind": "review"}
    assert events("page_ratings") == [
        Event(
            **review,
            action="add",
            platform_id="904801129604590",
            person_id="3100000000000008",
            person_name="Robin Reviewer",
            text="Friendly and well organised.",
            at=T,
            rating=5,  # recommended
        ),
        Event(
            **review,
            action="add",
            platform_id="904801129604591",
            person_id="3100000000000009",
            person_name="Old Star Rater",
            text="It was fine.",
            at=at(5),  # no created_time: the entry's
            rating=3,
        ),
        Event(
            **review,
            action="edit",
            platform_id="904801129604592",
            person_id="3100000000000010",
            person_name="Unhappy Reviewer",
            text="Nobody answered my message.",
            at=at(30),
            rating=1,  # not recommended
        ),
        Event(
            platform="facebook",
            kind="comment",
            action="add",
            platform_id="904801129604592_904802532937783",
            person_id="",
            person_name="",
            text="Sorry about that, we have replied now.",
            at=at(90),
            from_fig=True,
            parent_id="904801129604592",
        ),
    ]


# --- malformed items ---------------------------------------------------------------------------------


def test_a_malformed_item_is_skipped_and_logged_without_its_content(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="social.inbox.meta"):
        delivery = load("mixed_with_malformed")
    assert delivery.skipped == 1
    assert [event.platform_id for event in delivery.events] == [
        "m_mixed_0001",
        "m_mixed_0003",
        "901097836652708_903438993086000",
    ]
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    logged = caplog.records[0].getMessage()
    assert "entry[0].messaging[1].timestamp" in logged and "unreadable time" in logged
    for private in ("PRIVATE", "07700", "phone", "yesterday", "m_mixed_0002", "2400000000000002"):
        assert private not in logged


def _bad_text(p: dict) -> None:
    p["entry"][0]["messaging"][0]["message"]["text"] = ["not", "a", "string"]


def _no_mid(p: dict) -> None:
    del p["entry"][0]["messaging"][0]["message"]["mid"]


def _long_mid(p: dict) -> None:
    p["entry"][0]["messaging"][0]["message"]["mid"] = "m" * 201


def _bad_time(p: dict) -> None:
    p["entry"][0]["messaging"][0]["timestamp"] = 10**30


def _not_an_object(p: dict) -> None:
    p["entry"][0]["messaging"][0] = "message"


def _bad_attachment(p: dict) -> None:
    p["entry"][0]["messaging"][0]["message"]["attachments"] = ["https://example.org/a.jpg"]


def _bad_sender(p: dict) -> None:
    p["entry"][0]["messaging"][0]["sender"] = {"id": True}


@pytest.mark.parametrize(
    ("spoil", "path"),
    [
        (_bad_text, "entry[0].messaging[0].message.text (not a string)"),
        (_no_mid, "entry[0].messaging[0].message.mid (missing)"),
        (_long_mid, "entry[0].messaging[0].message.mid (longer than 200 characters)"),
        (_bad_time, "entry[0].messaging[0].timestamp (unreadable time)"),
        (_not_an_object, "entry[0].messaging[0] (not an object)"),
        (_bad_attachment, "entry[0].messaging[0].message.attachments[0] (not an object)"),
        (_bad_sender, "entry[0].messaging[0].sender.id (not a string or whole number)"),
    ],
)
def test_each_kind_of_malformed_message_is_skipped_on_its_own(spoil, path, caplog: pytest.LogCaptureFixture) -> None:
    payload = raw("messenger_text")
    spoil(payload)
    with caplog.at_level(logging.WARNING, logger="social.inbox.meta"):
        delivery = parse_delivery(payload)
    assert delivery.skipped == 1
    assert [event.platform_id for event in delivery.events] == ["m_text_0002"]
    assert path in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda value: value.update(comment_id=None),
        lambda value: value.update(created_time="the day before yesterday"),
        lambda value: value.update(message={"text": "nested"}),
        lambda value: value.update(post=["not", "an", "object"]),
    ],
    ids=["no comment id", "unreadable time", "message not text", "post not an object"],
)
def test_each_kind_of_malformed_change_is_skipped_on_its_own(spoil) -> None:
    payload = raw("page_comment_add")
    spoil(payload["entry"][0]["changes"][0]["value"])
    delivery = parse_delivery(payload)
    assert delivery.skipped == 1
    assert [event.platform_id for event in delivery.events] == ["901097836652708_903438993085300"]


def test_an_entry_that_is_not_an_object_is_skipped_and_the_next_is_read() -> None:
    payload = raw("page_comment_edited")
    payload["entry"].insert(0, ["not", "an", "entry"])
    delivery = parse_delivery(payload)
    assert delivery.skipped == 1
    assert [event.action for event in delivery.events] == ["edit"]


@pytest.mark.parametrize(
    "payload",
    [[], "text", None, {}, {"object": "page"}, {"entry": []}, {"object": "page", "entry": {"id": PAGE_ID}}],
)
def test_a_body_that_is_not_a_meta_delivery_raises_value_error(payload) -> None:
    with pytest.raises(ValueError):
        parse_delivery(payload)


def test_a_delivery_about_another_kind_of_object_has_no_events() -> None:
    payload = {"object": "user", "entry": [{"id": "1", "time": 1792486800, "changes": [{"field": "feed"}]}]}
    assert parse_delivery(payload) == Delivery(events=[], skipped=0)


# --- cleaning --------------------------------------------------------------------------------------


def test_it_removes_nul_and_lone_surrogates_from_text_names_and_ids() -> None:
    payload = raw("page_comment_add")
    value = payload["entry"][0]["changes"][0]["value"]
    value["message"] = "Lovely\x00 photos \ud800from the picnic!\udfff"
    value["comment_id"] = "9010978\x0036652708_90343899\udc003085259"
    value["from"]["name"] = "Alex\x00 Commenter\ud83d"
    event = parse_delivery(payload).events[0]
    assert event.text == "Lovely photos from the picnic!"
    assert event.platform_id == COMMENT_ID
    assert event.person_name == "Alex Commenter"
    event.text.encode("utf-8")  # would raise on a lone surrogate


def test_load_body_cleans_every_string_and_keeps_real_emoji() -> None:
    body = b'{"object": "page", "a\\u0000b": ["x\\ud800y", {"k": "\\ud83d\\ude00 \\u0000"}]}'
    assert load_body(body) == {"object": "page", "ab": ["xy", {"k": "\U0001f600 "}]}


def test_an_id_of_200_characters_is_kept_and_one_of_201_is_skipped() -> None:
    assert parse_delivery(message("m" * 200, "Hi")).events[0].platform_id == "m" * 200
    assert parse_delivery(message("m" * 201, "Hi")) == Delivery(events=[], skipped=1)


def test_text_is_cut_to_20000_characters() -> None:
    event = parse_delivery(message("m_long", "a" * 20_000 + "b" * 5)).events[0]
    assert event.text == "a" * 20_000


@pytest.mark.parametrize(
    "url",
    [
        "http://www.facebook.com/figsafety/posts/1",
        "https://evil.example/www.facebook.com/posts/1",
        "https://www.facebook.com.evil.example/posts/1",
        "https://evilfacebook.com/posts/1",
        "https://user@www.facebook.com/posts/1",
        "https://www.facebook.com:8443/posts/1",
        "javascript:alert(1)//https://www.facebook.com/",
        "https://www.facebook.com/posts/1 onmouseover=x",
        "//www.facebook.com/posts/1",
        "https://www.facebook.com/" + "p" * 5000,  # refused whole, never shortened into another address
    ],
    ids=lambda url: url[:60],
)
def test_a_permalink_not_on_a_meta_site_is_dropped(url: str) -> None:
    payload = raw("page_comment_add")
    payload["entry"][0]["changes"][0]["value"]["post"]["permalink_url"] = url
    event = parse_delivery(payload).events[0]
    assert event.permalink == ""
    assert event.platform_id == COMMENT_ID  # the comment itself is kept


@pytest.mark.parametrize(
    "url",
    [
        "https://facebook.com/figsafety/posts/1",
        "https://fb.com/figsafety",
        "https://instagram.com/p/abc/",
        "https://www.instagram.com/p/abc/",
        "https://WWW.Facebook.com/figsafety/posts/1",
    ],
)
def test_a_permalink_on_a_meta_site_is_kept(url: str) -> None:
    payload = raw("page_comment_add")
    payload["entry"][0]["changes"][0]["value"]["post"]["permalink_url"] = url
    assert parse_delivery(payload).events[0].permalink == url


# --- decoding --------------------------------------------------------------------------------------


def test_load_body_refuses_deep_nesting_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError):
        load_body(b"[" * 1_000_000)
    with pytest.raises(ValueError):
        load_body(b"[" * 500_000 + b"]" * 500_000)
    assert time.perf_counter() - started < 0.5


def test_load_body_allows_64_levels_and_refuses_65() -> None:
    assert load_body(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(ValueError):
        load_body(b"[" * 65 + b"]" * 65)
    with pytest.raises(ValueError):
        load_body(b'{"a":' * 65 + b"1" + b"}" * 65)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '[[[ {{{ \\" ]]' * 50
    assert load_body(json.dumps({"message": text}).encode()) == {"message": text}


@pytest.mark.parametrize("body", [b"\xff\xfe{}", b'{"a": NaN}', b"{", b'{"a": 1} x', b""])
def test_load_body_refuses_what_is_not_plain_json(body: bytes) -> None:
    with pytest.raises(ValueError):
        load_body(body)


def test_every_payload_file_parses_without_a_skip_except_the_malformed_one() -> None:
    for path in sorted(PAYLOADS.glob("*.json")):
        delivery = parse_delivery(load_body(path.read_bytes()))
        assert delivery.skipped == (1 if path.stem == "mixed_with_malformed" else 0), path.name
        # Parsing does not change the payload the caller holds.
        payload = json.loads(path.read_text())
        parse_delivery(kept := copy.deepcopy(payload))
        assert kept == payload
