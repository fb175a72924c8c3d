"""The X client (social/x.py) against a fake X API v2 on 127.0.0.1 that checks every request as X would,
the OAuth 1.0a signature included: what it sends, what it makes of each answer, and that FiG's credentials
never leave in an error or a log line."""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from social import x
from social.x import REFUSED, TIMEOUT, UNREACHABLE, UNSUCCESSFUL, X_LIMIT, XError
from tests.photos.images import jpeg, png
from tests.processes import free_port, fresh_environment
from tests.social.fake_x import FakeX, x_api

TEXT = "What a wonderful summer picnic! Thank you to all our volunteers."


@pytest.fixture
def fake(settings):
    with x_api(settings) as server:
        yield server


def _credentials(fake: FakeX) -> list[str]:
    return [fake.api_key, fake.api_secret, fake.access_token, fake.access_secret]


# --- what it sends ---------------------------------------------------------------------------------------------


def test_it_uploads_a_photo_then_posts_with_it_attached(fake):
    photo = jpeg(320, 240)

    media_id = x.upload_media(photo, "image/jpeg")
    post_id = x.create_post(TEXT, [media_id])

    assert fake.problems == []
    upload, tweet = fake.requests
    assert (upload.method, upload.path, upload.endpoint) == ("POST", "/2/media/upload", "upload")
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert upload.fields == {"media_category": "tweet_image", "media_type": "image/jpeg"}
    assert upload.files == {"media": ("media", "image/jpeg", photo)}
    assert (tweet.method, tweet.path, tweet.endpoint) == ("POST", "/2/tweets", "tweet")
    assert tweet.headers["Content-Type"] == "application/json"
    assert tweet.json == {"text": TEXT, "media": {"media_ids": [media_id]}}
    for request in (upload, tweet):
        assert request.headers["Authorization"].startswith("OAuth ")
        assert request.oauth["oauth_consumer_key"] == fake.api_key
        assert request.oauth["oauth_token"] == fake.access_token
        assert request.oauth["oauth_signature_method"] == "HMAC-SHA1"
        assert request.oauth["oauth_signature"]
    assert fake.media == {media_id: ("image/jpeg", photo)}
    assert fake.posts == {post_id: {"text": TEXT, "media_ids": [media_id]}}
    assert x.post_url(post_id) == f"https://x.com/i/web/status/{post_id}"


def test_a_post_without_photos_sends_no_media(fake):
    post_id = x.create_post(TEXT, [])

    assert fake.problems == []
    [tweet] = fake.requests
    assert tweet.json == {"text": TEXT}
    assert fake.posts == {post_id: {"text": TEXT, "media_ids": []}}


def test_it_uploads_a_png_as_a_png(fake):
    photo = png(100, 80)

    media_id = x.upload_media(photo, "image/png")

    assert fake.problems == []
    assert fake.requests[0].fields["media_type"] == "image/png"
    assert fake.media[media_id] == ("image/png", photo)


def test_it_deletes_a_post(fake):
    post_id = x.create_post(TEXT, [])

    x.delete_post(post_id)

    assert fake.problems == []
    delete = fake.requests[-1]
    assert (delete.method, delete.path, delete.endpoint, delete.body) == (
        "DELETE",
        f"/2/tweets/{post_id}",
        "delete",
        b"",
    )
    assert delete.oauth["oauth_token"] == fake.access_token
    assert fake.deleted == [post_id]


def test_a_delete_that_x_says_did_not_happen_is_unsuccessful(fake):
    post_id = x.create_post(TEXT, [])
    fake.answer_on("delete", 200, {"data": {"deleted": False}})

    with pytest.raises(XError) as caught:
        x.delete_post(post_id)

    assert caught.value.kind == UNSUCCESSFUL
    assert not caught.value.may_have_succeeded


@pytest.mark.parametrize("post_id", ["", "123/../../2/media", "123?x=1", "١٢٣"])
def test_only_a_post_id_of_digits_is_deleted(fake, post_id):
    with pytest.raises(ValueError):
        x.delete_post(post_id)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("data", "mime_type", "why"),
    [
        (b"GIF89a" + b"\0" * 100, "image/gif", "not image/gif"),
        (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "image/jpeg", "larger than the 5 MB"),
    ],
)
def test_a_photo_x_would_not_take_in_one_upload_is_refused_before_sending(fake, data, mime_type, why):
    with pytest.raises(XError) as caught:
        x.upload_media(data, mime_type)

    assert caught.value.kind == REFUSED
    assert why in str(caught.value)
    assert fake.requests == []


# --- what it makes of X's answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "status", "detail"),
    [
        ("tweet", 403, "You are not allowed to create a Tweet with duplicate content."),
        ("upload", 400, "media type unrecognized."),
        ("delete", 429, "Too Many Requests"),
        ("tweet", 503, "Service Unavailable"),
    ],
)
def test_x_s_own_explanation_of_a_refusal_reaches_the_caller(fake, endpoint, status, detail):
    post_id = x.create_post(TEXT, [])
    fake.fail_on(endpoint, status=status, detail=detail)
    call = {
        "tweet": lambda: x.create_post(TEXT, []),
        "upload": lambda: x.upload_media(jpeg(), "image/jpeg"),
        "delete": lambda: x.delete_post(post_id),
    }[endpoint]

    with pytest.raises(XError) as caught:
        call()

    error = caught.value
    assert (error.kind, error.status, error.detail) == (REFUSED, status, detail)
    assert str(error) == f"X refused ({status}: {detail})."
    assert not error.may_have_succeeded


def test_x_s_message_about_each_wrong_parameter_reaches_the_caller(fake):
    too_long = "a" * (X_LIMIT + 1)

    with pytest.raises(XError) as caught:
        x.create_post(too_long, [])

    assert caught.value.kind == REFUSED and caught.value.status == 400
    assert "281 characters as X counts them, over 280" in caught.value.detail
    assert fake.posts == {}
    assert len(fake.problems) == 1  # the fake refused it, as X would


def test_a_post_with_media_x_never_issued_is_refused(fake):
    with pytest.raises(XError) as caught:
        x.create_post(TEXT, ["1234"])

    assert caught.value.status == 400
    assert "media id '1234' was not uploaded here" in caught.value.detail


def test_a_timeout_may_have_published_the_post(fake, settings):
    settings.FIG_X_TIMEOUT = 1
    fake.sleep_on("tweet", 2)

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    assert caught.value.kind == TIMEOUT
    assert caught.value.may_have_succeeded
    assert str(caught.value) == "X did not answer in time."
    assert len(fake.posts) == 1  # which is why: X made it, the answer came too late


def test_a_connection_dropped_after_sending_may_have_published_the_post(fake):
    fake.drop_on("tweet")

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    assert caught.value.kind == TIMEOUT
    assert caught.value.may_have_succeeded
    assert len(fake.posts) == 1


def test_x_s_gateway_timing_out_may_have_published_the_post(fake):
    fake.fail_on("tweet", status=504, detail="Gateway Timeout")

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    assert (caught.value.kind, caught.value.status) == (TIMEOUT, 504)
    assert caught.value.may_have_succeeded


@pytest.mark.parametrize("answer", [b"<html>ok</html>", {"data": {}}, {"data": {"text": TEXT}}])
def test_a_yes_that_makes_no_sense_may_have_published_the_post(fake, answer):
    fake.answer_on("tweet", 201, answer)

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    assert (caught.value.kind, caught.value.status) == (UNREACHABLE, 201)
    assert caught.value.may_have_succeeded


def test_an_x_that_is_not_there_published_nothing(fake, settings):
    settings.FIG_X_API_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    assert caught.value.kind == UNREACHABLE
    assert not caught.value.may_have_succeeded
    assert str(caught.value) == "X could not be reached or gave an unreadable answer."


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("FIG_X_ACCESS_TOKEN", "wrong oauth_token"),
        ("FIG_X_API_KEY", "wrong oauth_consumer_key"),
        ("FIG_X_ACCESS_SECRET", "the OAuth signature does not verify"),
        ("FIG_X_API_SECRET", "the OAuth signature does not verify"),
    ],
)
def test_the_fake_refuses_a_request_not_signed_with_fig_s_credentials(fake, settings, setting, why):
    setattr(settings, setting, "someone-else-entirely")

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    assert (caught.value.kind, caught.value.status, caught.value.detail) == (REFUSED, 401, "Unauthorized")
    assert any(why in problem for problem in fake.problems)
    assert fake.posts == {}


# --- configuration ---------------------------------------------------------------------------------------------


def test_it_is_configured_with_all_four_credentials(fake):
    assert x.x_configured()


@pytest.mark.parametrize("missing", ["FIG_X_API_KEY", "FIG_X_API_SECRET", "FIG_X_ACCESS_TOKEN", "FIG_X_ACCESS_SECRET"])
def test_it_is_not_configured_without_any_one_of_them(fake, settings, missing):
    setattr(settings, missing, "")
    assert not x.x_configured()


def test_it_is_not_configured_by_default():
    assert not x.x_configured()
    assert django_settings.FIG_X_API_URL == "https://api.x.com"


def test_some_but_not_all_credentials_stop_the_process_at_start_up(tmp_path):
    env = fresh_environment(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        FIG_VAR_DIR=str(tmp_path),
        FIG_X_API_KEY="key",
        FIG_X_ACCESS_TOKEN="token",
    )
    root = Path(django_settings.BASE_DIR)
    result = subprocess.run(
        [sys.executable, "-c", "import fig_safety.settings"], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "X needs all four credentials; FIG_X_API_SECRET, FIG_X_ACCESS_SECRET not set." in result.stderr


@pytest.mark.parametrize(
    "url", ["http://api.x.com", "http://10.0.0.5:8080", "ftp://127.0.0.1", "https://user:pw@api.x.com", "api.x.com"]
)
def test_it_sends_nothing_to_an_address_that_is_not_https_or_loopback(fake, settings, url):
    settings.FIG_X_API_URL = url

    with pytest.raises(ImproperlyConfigured):
        x.create_post(TEXT, [])


def test_it_follows_the_api_url_to_a_path_under_it(fake, settings):
    settings.FIG_X_API_URL = fake.base_url + "/prefix/"

    with pytest.raises(XError):
        x.create_post(TEXT, [])

    assert fake.requests[0].path == "/prefix/2/tweets"


# --- the weighted length ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Picnic today", 12),
        ("https://www.example.org/a/very/long/path/that/goes/on/and/on/and/on?with=a&query=string", 23),
        ("See https://t.co/abc", 4 + 23),
        ("Our site: fig.org.uk", 10 + 23),  # a bare domain is a URL to X as well
        ("日本語", 6),  # CJK: 2 each
        ("안녕", 4),
        ("café", 4),  # Latin with accents: 1 each
        ("e\u0301", 1),  # normalised to é first
        ("👩\u200d👩\u200d👧\u200d👦", 2),  # an emoji sequence counts as one emoji, 2
        ("a\r\nb", 3),  # a Windows line ending is one newline
        ("", 0),
    ],
)
def test_x_length_weighs_text_as_x_does(text, length):
    assert x.x_length(text) == length


def test_the_limit_is_280_weighted():
    assert X_LIMIT == 280
    assert x.x_length("a" * 280) == X_LIMIT
    assert x.x_length("字" * 140) == X_LIMIT
    assert x.x_length("字" * 141) > X_LIMIT


# --- credentials ------------------------------------------------------------------------------------------------


def _everything_said_about(error: XError) -> str:
    return " ".join([str(error), repr(error), error.detail, *traceback.format_exception(error)])


def test_no_credential_is_in_an_error_even_when_x_echoes_one(fake):
    fake.fail_on("tweet", status=401, detail=f"Bad token {fake.access_token} for key {fake.api_key}")

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    said = _everything_said_about(caught.value)
    assert "Bad token [redacted] for key [redacted]" in said
    for credential in _credentials(fake):
        assert credential not in said


@pytest.mark.parametrize("trouble", ["refused", "timeout", "unreachable", "dropped"])
def test_an_error_carries_nothing_of_the_signed_request(fake, settings, trouble):
    settings.FIG_X_TIMEOUT = 1
    if trouble == "refused":
        fake.fail_on("tweet", status=400, detail="Invalid Request")
    elif trouble == "timeout":
        fake.sleep_on("tweet", 2)
    elif trouble == "dropped":
        fake.drop_on("tweet")
    else:
        settings.FIG_X_API_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(XError) as caught:
        x.create_post(TEXT, [])

    # Not chained to the tweepy or requests exception, whose request holds the Authorization header.
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    said = _everything_said_about(caught.value)
    for credential in _credentials(fake):
        assert credential not in said


def test_no_credential_is_logged_even_at_debug(fake, caplog):
    caplog.set_level(logging.DEBUG)

    x.create_post(TEXT, [x.upload_media(jpeg(), "image/jpeg")])

    assert fake.problems == []
    assert "Making API request" in caplog.text  # tweepy's own debug line was captured
    for credential in _credentials(fake):
        assert credential not in caplog.text
