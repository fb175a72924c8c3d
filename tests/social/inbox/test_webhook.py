"""The Meta webhook: the verify-token handshake, the signature check, what is stored and when."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.db.models.query import QuerySet
from django.test import Client

from fig_safety.times import LONDON
from social.models import InboxMessage, policy_due_at
from tests import factories
from tests.consents import factories as cf
from tests.social import payloads as p

pytestmark = pytest.mark.django_db

AT = datetime(2026, 10, 20, 10, 0, tzinfo=LONDON)  # a Tuesday, five days before the clocks go back


@pytest.fixture(autouse=True)
def meta(settings):
    settings.FIG_META_APP_SECRET = p.APP_SECRET
    settings.FIG_META_VERIFY_TOKEN = p.VERIFY_TOKEN


def _handshake(client, **params):
    return client.get(p.WEBHOOK_URL, params)


# --- the GET handshake -------------------------------------------------------------------------


def test_it_echoes_the_challenge_with_the_right_verify_token(client):
    response = _handshake(
        client, **{"hub.mode": "subscribe", "hub.verify_token": p.VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")  # the challenge is echoed, never rendered as HTML


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong-token", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": p.VERIFY_TOKEN.upper(), "hub.challenge": "1"},
        {"hub.verify_token": p.VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": p.VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
    ids=["wrong-token", "token-in-other-case", "no-mode", "other-mode", "no-token", "nothing"],
)
def test_it_refuses_the_handshake_without_the_right_token_and_mode(client, params):
    response = _handshake(client, **params)
    assert response.status_code == 403
    assert b"1" not in response.content


def test_it_refuses_every_handshake_when_no_verify_token_is_configured(client, settings):
    settings.FIG_META_VERIFY_TOKEN = ""
    response = _handshake(client, **{"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert response.status_code == 403


# --- signatures --------------------------------------------------------------------------------


def test_it_stores_a_correctly_signed_delivery(client):
    response = p.post(client, p.messenger_message("Hello FiG", mid="m_signed"))
    assert response.status_code == 200
    assert response.content == b"EVENT_RECEIVED"
    assert InboxMessage.objects.get().platform_id == "m_signed"


def _tampered(raw: bytes) -> tuple[bytes, str]:
    return raw.replace(b"Hello FiG", b"Hello FIG"), p.sign(raw)


@pytest.mark.parametrize(
    "forge",
    [
        lambda raw: (raw, p.sign(raw, "not-the-app-secret")),
        lambda raw: (raw, None),
        lambda raw: (raw, p.sign(raw).removeprefix("sha256=")),
        lambda raw: (raw, "sha1=" + p.sign(raw).removeprefix("sha256=")),
        lambda raw: (raw, p.sign(raw).upper()),
        lambda raw: (raw, "sha256="),
        lambda raw: (raw, "sha256=" + "é" * 64),
        _tampered,
        lambda raw: (raw + b" ", p.sign(raw)),
    ],
    ids=[
        "wrong-secret",
        "missing",
        "no-sha256-prefix",
        "sha1-prefix",
        "prefix-in-capitals",
        "empty-digest",
        "non-ascii",
        "body-changed-after-signing",
        "byte-appended-after-signing",
    ],
)
def test_it_refuses_a_forged_or_tampered_delivery_and_stores_nothing(client, forge, django_capture_on_commit_callbacks):
    raw = p.body(p.messenger_message("Hello FiG"))
    sent, signature = forge(raw)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        if signature is None:
            response = p.post(client, sent, unsigned=True)
        else:
            response = p.post(client, sent, signature=signature)
    assert response.status_code == 403
    assert not InboxMessage.objects.exists()
    assert callbacks == []  # and nothing queued either


def test_it_refuses_every_delivery_when_no_app_secret_is_configured(client, settings):
    settings.FIG_META_APP_SECRET = ""
    payload = p.messenger_message()
    # Signed with the empty secret: an unconfigured server must not accept what anyone can compute.
    response = p.post(client, payload, secret="")
    assert response.status_code == 403
    assert not InboxMessage.objects.exists()


# --- what is stored ----------------------------------------------------------------------------


def test_it_stores_a_messenger_message_with_the_platforms_own_time(client):
    sent_at = AT - timedelta(minutes=3)  # Meta's timestamp, not the moment it reached us
    payload = p.messenger_message(
        "When is the next family day?", mid="m_abc", sender_id="2401", timestamp_ms=p.ms(sent_at) + 417
    )
    p.post(client, payload)

    message = InboxMessage.objects.get()
    assert (message.platform, message.kind) == ("messenger", "message")
    assert (message.platform_id, message.sender_id, message.text) == ("m_abc", "2401", "When is the next family day?")
    assert message.received_at == sent_at + timedelta(milliseconds=417)
    assert message.due_at == policy_due_at(message.received_at)
    assert message.status == InboxMessage.Status.OPEN


def test_a_message_received_before_the_october_change_is_due_at_the_same_london_time_169_hours_later(client):
    p.post(client, p.messenger_message(timestamp_ms=p.ms(AT)))
    message = InboxMessage.objects.get()
    assert message.due_at == datetime(2026, 10, 27, 10, 0, tzinfo=LONDON)
    assert message.due_at.astimezone(UTC) - message.received_at.astimezone(UTC) == timedelta(hours=169)


def test_it_stores_a_page_comment_with_created_time_in_seconds(client):
    payload = p.page_comment(
        "Is the picnic on Sunday?",
        comment_id="555_777",
        from_id="3101",
        from_name="Pat Doe",
        created_time=p.seconds(AT),
    )
    p.post(client, payload)

    message = InboxMessage.objects.get()
    assert (message.platform, message.kind, message.platform_id) == ("facebook", "comment", "555_777")
    assert (message.sender_id, message.sender_name, message.text) == ("3101", "Pat Doe", "Is the picnic on Sunday?")
    assert message.permalink.startswith("https://www.facebook.com/")
    assert message.received_at == AT
    assert message.due_at == policy_due_at(AT)


@pytest.mark.parametrize(
    "created_time", ["2026-10-20T09:00:00+0000", "2026-10-20T09:00:00Z", "2026-10-20T10:00:00+01:00"]
)
def test_it_reads_a_comments_created_time_as_an_iso_string(client, created_time):
    p.post(client, p.page_comment(created_time=created_time))
    assert InboxMessage.objects.get().received_at == AT


def test_it_reads_a_timestamp_in_seconds_and_in_milliseconds_as_the_same_moment(client):
    p.post(client, p.messenger_message(mid="m_in_ms", timestamp_ms=p.ms(AT)))
    p.post(client, p.messenger_message(mid="m_in_s", timestamp_ms=p.seconds(AT)))
    p.post(client, p.page_comment(comment_id="1_in_s", created_time=p.seconds(AT)))
    p.post(client, p.page_comment(comment_id="1_in_ms", created_time=p.ms(AT)))
    stored = dict(InboxMessage.objects.values_list("platform_id", "received_at"))
    assert stored == dict.fromkeys(["m_in_ms", "m_in_s", "1_in_s", "1_in_ms"], AT)


def test_it_stores_instagram_messages_and_comments(client):
    p.post(client, p.instagram_message("Can my son join?", mid="ig_m_1", sender_id="6401", timestamp_ms=p.ms(AT)))
    p.post(client, p.instagram_comment("So fun!", comment_id="17900001", username="pat.doe", time=p.seconds(AT)))

    message = InboxMessage.objects.get(kind="message")
    assert (message.platform, message.platform_id, message.sender_id, message.text) == (
        "instagram",
        "ig_m_1",
        "6401",
        "Can my son join?",
    )
    comment = InboxMessage.objects.get(kind="comment")
    assert (comment.platform, comment.platform_id, comment.sender_name, comment.text) == (
        "instagram",
        "17900001",
        "pat.doe",
        "So fun!",
    )
    assert message.received_at == comment.received_at == AT
    assert message.due_at == comment.due_at == policy_due_at(AT)


def test_a_delivery_with_several_entries_stores_each(client):
    payload = p.combine(
        p.messenger_message(mid="m_1"),
        p.messenger_read(),
        p.page_comment(comment_id="1_2"),
        p.messenger_message(mid="m_3"),
    )
    assert p.post(client, payload).status_code == 200
    assert sorted(InboxMessage.objects.values_list("platform_id", flat=True)) == ["1_2", "m_1", "m_3"]


@pytest.mark.parametrize(
    "payload",
    [
        p.messenger_echo(),
        p.messenger_read(),
        p.messenger_delivery(),
        p.combine(p.messenger_echo(), p.messenger_read(), p.messenger_delivery()),
    ],
    ids=["echo", "read", "delivery", "all-three"],
)
def test_it_answers_but_ignores_echoes_reads_and_deliveries(client, payload):
    assert p.post(client, payload).status_code == 200
    assert not InboxMessage.objects.exists()


def test_it_ignores_figs_own_comments_on_its_page_and_account(client):
    p.post(client, p.page_comment("Thanks, see you there!", from_id=p.PAGE_ID, from_name="FiG"))
    p.post(client, p.instagram_comment("Thank you!", from_id=p.IG_ACCOUNT_ID, username="fig_charity"))
    assert not InboxMessage.objects.exists()


@pytest.mark.parametrize("verb", ["edited", "remove", "hide"])
def test_it_ignores_comment_changes_other_than_a_new_comment(client, verb):
    p.post(client, p.page_comment(verb=verb))
    assert not InboxMessage.objects.exists()


def test_a_redelivery_of_the_same_payload_stores_once(client, django_capture_on_commit_callbacks):
    payload = p.combine(p.messenger_message(mid="m_again"), p.page_comment(comment_id="1_again"))
    with django_capture_on_commit_callbacks(execute=True) as first:
        assert p.post(client, payload).status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as again:
        assert p.post(client, payload).status_code == 200
        assert p.post(client, payload).status_code == 200
    assert InboxMessage.objects.count() == 2
    assert len(first) == 2 and again == []  # flagging is queued for new messages only


def test_the_same_id_on_two_platforms_is_two_messages(client):
    p.post(client, p.messenger_message(mid="same-id"))
    p.post(client, p.instagram_message(mid="same-id"))
    assert sorted(InboxMessage.objects.values_list("platform", flat=True)) == ["instagram", "messenger"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_the_same_moment_on_postgresql_store_once():
    assert connection.vendor == "postgresql"
    raw = p.body(p.messenger_message("Hello from two threads", mid="m_race"))
    original_create = QuerySet.create
    both_looked = threading.Barrier(2, timeout=10)

    def create_after_both_looked(self, **kwargs):
        # Both requests have run get_or_create's SELECT and found nothing: now both INSERT.
        if self.model is InboxMessage:
            both_looked.wait()
        return original_create(self, **kwargs)

    statuses: list[int] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            statuses.append(p.post(Client(), raw).status_code)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch.object(QuerySet, "create", create_after_both_looked):
        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors
    assert statuses == [200, 200]
    message = InboxMessage.objects.get()
    assert message.platform_id == "m_race" and message.flagged_at is not None  # flagged once, after commit


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"\xff\xfe\x00",
        b'{"object": "page", "entry": ["not an object"]}',
        b'{"object": "page", "entry": [{"messaging": "not a list"}]}',
        p.body(
            {
                "object": "page",
                "entry": [
                    {
                        "messaging": [
                            {
                                "sender": {"id": "1"},
                                "timestamp": "yesterday",
                                "message": {"mid": "m_bad_time", "text": "hi"},
                            }
                        ]
                    }
                ],
            }
        ),
        p.body(
            {
                "object": "page",
                "entry": [
                    {
                        "messaging": [
                            {
                                "sender": {"id": "1"},
                                "timestamp": 10**20,
                                "message": {"mid": "m_huge_time", "text": "hi"},
                            }
                        ]
                    }
                ],
            }
        ),
        p.body(
            {
                "object": "page",
                "entry": [
                    {
                        "changes": [
                            {
                                "field": "feed",
                                "value": {"item": "comment", "verb": "add", "message": "no id", "created_time": 1},
                            }
                        ]
                    }
                ],
            }
        ),
        # A good message followed by a broken one: the delivery is refused whole, so nothing is half-stored.
        p.body(
            p.combine(
                p.messenger_message(mid="m_good"),
                {
                    "object": "page",
                    "entry": [{"messaging": [{"sender": {"id": "1"}, "message": {"mid": "m_no_time", "text": "hi"}}]}],
                },
            )
        ),
    ],
    ids=[
        "broken-json",
        "empty",
        "not-utf8",
        "entry-not-object",
        "messaging-not-list",
        "unreadable-time",
        "time-out-of-range",
        "comment-without-id",
        "good-then-broken",
    ],
)
def test_a_malformed_delivery_is_refused_with_400_and_stores_nothing(client, raw):
    response = p.post(client, raw)  # correctly signed: the body itself is what is wrong
    assert response.status_code == 400
    assert not InboxMessage.objects.exists()


def test_the_endpoint_needs_no_csrf_token():
    strict = Client(enforce_csrf_checks=True)
    assert p.post(strict, p.messenger_message()).status_code == 200
    assert InboxMessage.objects.count() == 1


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_only_get_and_post_are_allowed(client, method):
    raw = p.body(p.messenger_message())
    response = getattr(client, method)(
        p.WEBHOOK_URL, data=raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=p.sign(raw)
    )
    assert response.status_code == 405
    assert not InboxMessage.objects.exists()


# --- slow work after commit --------------------------------------------------------------------


def test_it_flags_a_comment_naming_a_child_only_after_the_delivery_commits(client, django_capture_on_commit_callbacks):
    coordinator = factories.staff_user("coordinator", email="coord@example.org")
    family, child, _ = cf.family_with_child(coordinator=coordinator)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = p.post(client, p.page_comment(f"Great to see {child.first_name} {child.last_name} there!"))
    assert response.status_code == 200
    message = InboxMessage.objects.get()
    assert message.flagged_at is None and not message.urgent  # the answer did not wait for the flagging
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):  # the commit; the emails go after the flagging's own
        for callback in callbacks:
            callback()
    message.refresh_from_db()
    assert message.urgent and message.flagged_at is not None
    assert list(message.flagged_families.all()) == [family]
    assert [m.to for m in mail.outbox] == [["coord@example.org"]]
