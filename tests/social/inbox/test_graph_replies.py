"""Replying in place through the Graph API client, against the fake Graph API on 127.0.0.1.

Messages (Messenger and Instagram, through the Page's Send API), private replies to comments, public
replies under Facebook and Instagram comments, and fetching a message's attachment from Meta's CDN.
The fake checks each request as Meta documents it and refuses anything else, so a wrong request fails
here even where the client would ignore the answer. No database is needed: the client never touches it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from unittest import mock

import pytest

from social import graph
from social.graph import REFUSED, TIMEOUT, UNREACHABLE, GraphError
from tests.social.fake_graph import FakeGraph, page_graph

JPEG = b"\xff\xd8\xff\xe0" + b"photo bytes" * 100
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def fake(settings) -> Iterator[FakeGraph]:
    with page_graph(settings) as fake:
        yield fake


def _sent(request) -> dict:
    """The request's form fields, with the Send API's JSON-encoded ones decoded."""
    fields = dict(request.fields)
    for key in ("recipient", "message"):
        if key in fields:
            fields[key] = json.loads(fields[key])
    return fields


# --- messages -----------------------------------------------------------------------------------------------


def test_it_sends_a_message_as_a_response_and_returns_metas_message_id(fake):
    message_id = graph.send_message("2468013579", "Thank you, we will look into it.")

    assert fake.problems == []
    [request] = fake.requests
    assert (request.method, request.path, request.endpoint) == ("POST", f"/v21.0/{fake.page_id}/messages", "messages")
    assert request.content_type == FORM
    assert _sent(request) == {
        "access_token": fake.token,
        "recipient": {"id": "2468013579"},
        "message": {"text": "Thank you, we will look into it."},
        "messaging_type": "RESPONSE",
    }
    assert message_id == fake.message_ids[0] != ""


def test_it_sends_a_human_agent_message_with_the_message_tag(fake):
    message_id = graph.send_message("IGSID-17841", "Sorry for the wait: here is the answer.", human_agent=True)

    assert fake.problems == []
    [request] = fake.to("messages")
    assert _sent(request) == {
        "access_token": fake.token,
        "recipient": {"id": "IGSID-17841"},
        "message": {"text": "Sorry for the wait: here is the answer."},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
    }
    assert message_id == fake.message_ids[0]


def test_text_with_quotes_and_other_scripts_arrives_unchanged(fake):
    text = 'She said "hello" & asked: is 5 < 6? Diolch — 谢谢 👍'
    graph.send_message("2468013579", text)

    assert fake.problems == []
    assert _sent(fake.to("messages")[0])["message"] == {"text": text}


def test_without_a_page_id_the_message_goes_to_me_which_is_the_page(fake, settings):
    settings.FIG_META_PAGE_ID = ""
    graph.send_message("2468013579", "Hello")

    assert fake.problems == []
    [request] = fake.to("messages")
    assert request.path == "/v21.0/me/messages"


def test_it_sends_a_private_reply_to_a_comment(fake):
    message_id = graph.private_reply("1234567890_987654", "We have sent you a message about this.")

    assert fake.problems == []
    [request] = fake.requests
    assert request.path == f"/v21.0/{fake.page_id}/messages"
    assert _sent(request) == {
        "access_token": fake.token,
        "recipient": {"comment_id": "1234567890_987654"},
        "message": {"text": "We have sent you a message about this."},
        "messaging_type": "RESPONSE",
    }
    assert message_id == fake.message_ids[0]


def test_metas_refusal_of_a_message_surfaces_in_the_error(fake):
    fake.fail_on("messages", message="(#10) This message is sent outside of allowed window.", code=10)

    with pytest.raises(GraphError) as caught:
        graph.send_message("2468013579", "Hello")

    assert (caught.value.kind, caught.value.status) == (REFUSED, 400)
    assert caught.value.detail == "(#10) This message is sent outside of allowed window."
    assert not caught.value.may_have_succeeded
    assert fake.problems == [] and len(fake.to("messages")) == 1


def test_a_private_reply_that_times_out_may_have_been_sent(fake, settings):
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("messages", 2)

    with pytest.raises(GraphError) as caught:
        graph.private_reply("1234567890_987654", "Hello")

    assert caught.value.kind == TIMEOUT and caught.value.may_have_succeeded
    assert len(fake.to("messages")) == 1


def test_the_fake_refuses_a_message_meta_would_refuse(fake):
    """The fake's own checks: otherwise a client sending nonsense would pass the tests above."""
    with pytest.raises(GraphError) as caught:
        graph.call(
            "POST",
            f"{fake.page_id}/messages",
            {"recipient": json.dumps({"user": "x"}), "message": "hello", "messaging_type": "UPDATE"},
        )

    assert caught.value.status == 400
    assert len(fake.problems) == 3  # one line per problem
    problems = "\n".join(fake.problems)
    assert "recipient is not" in problems and "message is not" in problems and "'UPDATE'" in problems
    assert "recipient is not" in caught.value.detail  # Meta's explanation reaches the caller
    assert fake.message_ids == []


def test_the_fake_refuses_a_message_tag_other_than_human_agent(fake):
    with pytest.raises(GraphError):
        graph.call(
            "POST",
            f"{fake.page_id}/messages",
            {
                "recipient": json.dumps({"id": "1"}),
                "message": json.dumps({"text": "hi"}),
                "messaging_type": "MESSAGE_TAG",
                "tag": "ACCOUNT_UPDATE",
            },
        )

    assert len(fake.problems) == 1 and "not HUMAN_AGENT" in fake.problems[0]


def test_an_empty_message_is_refused_as_meta_would(fake):
    with pytest.raises(GraphError) as caught:
        graph.send_message("2468013579", "   ")

    assert caught.value.kind == REFUSED and "the message text is empty" in caught.value.detail
    assert fake.message_ids == []


# --- public replies under comments ----------------------------------------------------------------------------


def test_it_replies_under_a_facebook_comment_on_its_comments_edge(fake):
    reply_id = graph.reply_to_comment("1234567890_555", "Thanks for asking: it starts at ten.", platform="facebook")

    assert fake.problems == []
    [request] = fake.requests
    assert (request.method, request.path, request.endpoint) == ("POST", "/v21.0/1234567890_555/comments", "comments")
    assert request.content_type == FORM
    assert request.fields == {"access_token": fake.token, "message": "Thanks for asking: it starts at ten."}
    assert reply_id == fake.comment_ids[0] != ""


def test_it_replies_under_an_instagram_comment_on_its_replies_edge(fake):
    reply_id = graph.reply_to_comment("17870913679156914", "Thank you!", platform="instagram")

    assert fake.problems == []
    [request] = fake.requests
    assert (request.path, request.endpoint) == ("/v21.0/17870913679156914/replies", "replies")
    assert request.fields == {"access_token": fake.token, "message": "Thank you!"}
    assert reply_id == fake.comment_ids[0]


def test_a_comment_id_cannot_reach_another_graph_path(fake):
    graph.reply_to_comment("1234567890/feed?x=", "Hello", platform="facebook")

    [request] = fake.requests
    assert request.path == "/v21.0/1234567890%2Ffeed%3Fx%3D/comments"
    assert fake.to("feed") == [] and fake.post_ids == []


def test_an_unknown_platform_is_a_programming_error_and_calls_nothing(fake):
    with pytest.raises(ValueError, match="tiktok"):
        graph.reply_to_comment("1", "Hello", platform="tiktok")

    assert fake.requests == []


@pytest.mark.parametrize(("platform", "endpoint"), [("facebook", "comments"), ("instagram", "replies")])
def test_metas_refusal_of_a_reply_surfaces_in_the_error(fake, platform, endpoint):
    fake.fail_on(endpoint, status=403, message="(#200) Permissions error", code=200)

    with pytest.raises(GraphError) as caught:
        graph.reply_to_comment("1790", "Hello", platform=platform)

    assert (caught.value.kind, caught.value.status, caught.value.detail) == (REFUSED, 403, "(#200) Permissions error")
    assert fake.comment_ids == []


def test_a_reply_that_times_out_may_have_been_posted(fake, settings):
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("replies", 2)

    with pytest.raises(GraphError) as caught:
        graph.reply_to_comment("1790", "Hello", platform="instagram")

    assert caught.value.kind == TIMEOUT and caught.value.may_have_succeeded


def test_the_fake_refuses_a_reply_without_a_message(fake):
    with pytest.raises(GraphError) as caught:
        graph.call("POST", "1790/replies", {})

    assert caught.value.status == 400 and "no message" in caught.value.detail
    assert fake.comment_ids == []


def test_an_unreachable_graph_api_is_a_failure(fake, settings):
    settings.FIG_GRAPH_API_URL = "http://127.0.0.1:9/v21.0"  # the discard port: nothing listens

    with pytest.raises(GraphError) as caught:
        graph.send_message("2468013579", "Hello")

    assert caught.value.kind == UNREACHABLE


# --- attachments --------------------------------------------------------------------------------------------


def test_it_fetches_an_attachment_without_sending_the_page_token(fake):
    url = fake.add_attachment("/cdn/v/t1/photo.jpg", JPEG, "image/jpeg")

    data, content_type = graph.fetch_attachment(url + "?oh=signature&oe=66AA", max_bytes=len(JPEG))

    assert (data, content_type) == (JPEG, "image/jpeg")
    assert fake.problems == []  # the fake lists a page token or Authorization header sent to a file
    [request] = fake.to("attachment")
    assert (request.method, request.path, request.fields) == (
        "GET",
        "/cdn/v/t1/photo.jpg",
        {"oh": "signature", "oe": "66AA"},
    )


def test_parameters_of_the_content_type_are_dropped(fake):
    url = fake.add_attachment("/cdn/voice", b"audio", "audio/mp4; codecs=mp4a.40.2")

    assert graph.fetch_attachment(url, max_bytes=100) == (b"audio", "audio/mp4")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/x.jpg",
        "http://fbcdn.net/x.jpg",  # plain http, even on a Meta host
        "http://scontent.xx.fbcdn.net/x.jpg",
        "https://fbcdn.net.evil.example/x.jpg",
        "https://evilfbcdn.net/x.jpg",
        "https://fbcdn.net:8443/x.jpg",
        "https://someone@scontent.xx.fbcdn.net/x.jpg",
        "ftp://fbcdn.net/x.jpg",
        "file:///etc/passwd",
        "http://127.0.0.1/x.jpg",  # loopback, but not the fake Graph API's own port
        "http://localhost:{port}/cdn/photo.jpg",  # the same server under another name
        "not a url",
        "",
    ],
)
def test_anything_but_a_meta_address_is_refused_before_any_request(fake, url):
    fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    url = url.replace("{port}", fake.base_url.split(":")[2].split("/")[0])

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=10_000_000)

    assert (caught.value.kind, caught.value.detail) == (REFUSED, "not a Meta address")
    assert fake.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?oh=1",
        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
        "https://scontent-lhr8-1.cdninstagram.com/v/photo.jpg",
        "https://www.facebook.com/photo.jpg",
        "https://FBCDN.NET:443/photo.jpg",
    ],
)
def test_a_meta_address_is_fetched(fake, url):
    # No network here: the attempt itself, failing to connect, shows the address was let through.
    offline = urllib.error.URLError("offline")
    with (
        mock.patch.object(urllib.request.OpenerDirector, "open", side_effect=offline) as op,
        pytest.raises(GraphError) as caught,
    ):
        graph.fetch_attachment(url, max_bytes=1000)

    assert caught.value.kind == UNREACHABLE
    assert op.call_args.args[0].full_url == url


def test_the_meta_hosts_are_a_setting(fake, settings):
    settings.FIG_META_CDN_HOSTS = ["media.example.org"]

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment("https://scontent.xx.fbcdn.net/photo.jpg", max_bytes=1000)

    assert caught.value.detail == "not a Meta address"


def test_the_loopback_address_is_allowed_only_while_the_graph_api_is_there(fake, settings):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    settings.FIG_GRAPH_API_URL = "https://graph.facebook.com/v21.0"

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=10_000_000)

    assert caught.value.detail == "not a Meta address"
    assert fake.requests == []


def test_a_redirect_to_another_host_is_refused(fake):
    url = fake.add_redirect("/lookaside/asset", "https://evil.example/x.jpg")

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=10_000_000)

    assert (caught.value.kind, caught.value.detail) == (REFUSED, "not a Meta address")
    assert [r.path for r in fake.requests] == ["/lookaside/asset"]


def test_a_redirect_to_a_meta_address_is_followed(fake):
    target = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    url = fake.add_redirect("/lookaside/asset", target)

    assert graph.fetch_attachment(url, max_bytes=len(JPEG)) == (JPEG, "image/jpeg")
    assert [r.path for r in fake.requests] == ["/lookaside/asset", "/cdn/photo.jpg"]


def test_endless_redirects_are_refused(fake):
    url = fake.add_redirect("/loop", "/loop")

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=1000)

    assert caught.value.kind == REFUSED
    assert len(fake.requests) <= 5


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_file_over_the_cap_is_refused(fake, declare_length):
    url = fake.add_attachment("/cdn/big.jpg", JPEG, "image/jpeg", declare_length=declare_length)

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=len(JPEG) - 1)

    assert (caught.value.kind, caught.value.detail) == (REFUSED, "too large")


def test_a_file_of_exactly_the_cap_without_a_declared_length_is_fetched(fake):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg", declare_length=False)

    assert graph.fetch_attachment(url, max_bytes=len(JPEG)) == (JPEG, "image/jpeg")


def test_an_expired_attachment_link_is_a_refusal_with_metas_reason(fake):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    fake.fail_on("attachment", status=403, message="URL signature expired")

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=len(JPEG))

    assert (caught.value.kind, caught.value.status, caught.value.detail) == (REFUSED, 403, "URL signature expired")


def test_an_attachment_that_does_not_come_in_time_is_a_timeout(fake, settings):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    settings.FIG_GRAPH_TIMEOUT = 1
    fake.sleep_on("attachment", 2)

    with pytest.raises(GraphError) as caught:
        graph.fetch_attachment(url, max_bytes=len(JPEG))

    assert caught.value.kind == TIMEOUT
