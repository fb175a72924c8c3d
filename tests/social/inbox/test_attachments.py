"""Attachments sent to FiG are fetched from Meta before its links expire and kept encrypted in the vault:
never a second copy, never from anywhere but Meta, never larger than the limit, and Meta's link is dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.utils import timezone

from fig_safety.vault import vault_read
from social.inbox import services
from social.inbox.attachments import attachments_fetch
from social.inbox.meta import Attachment, Event
from social.models import Message
from tests.social.fake_graph import page_graph

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"a photo that may show a child" * 40


@pytest.fixture
def fake(settings):
    with page_graph(settings) as fake:
        yield fake


def _message_with(*attachments: Attachment, capture=None) -> Message:
    event = Event(
        platform="messenger",
        kind="message",
        action="add",
        platform_id="m-att",
        person_id="psid-1",
        person_name="",
        text="",
        at=timezone.now() - timedelta(minutes=1),
        attachments=attachments,
    )
    if capture is None:
        return services.event_ingest(event)
    with capture(execute=True):
        message = services.event_ingest(event)
    message.refresh_from_db()
    return message


def test_a_photo_is_kept_encrypted_in_the_vault_and_metas_link_dropped(fake, django_capture_on_commit_callbacks):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    message = _message_with(Attachment(type="image", url=url), capture=django_capture_on_commit_callbacks)
    [kept] = message.attachments
    assert "url" not in kept
    assert kept["content_type"] == "image/jpeg" and kept["size"] == len(JPEG)
    with storages["vault"].open(kept["blob"], "rb") as handle:
        stored = handle.read()
    assert JPEG not in stored and b"may show a child" not in stored  # encrypted at rest
    assert vault_read(name=kept["blob"], key_id=kept["key_id"]) == JPEG
    assert message.attachments_fetched_at is not None


def test_a_second_run_keeps_no_second_copy(fake, django_capture_on_commit_callbacks):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    message = _message_with(Attachment(type="image", url=url), capture=django_capture_on_commit_callbacks)
    assert attachments_fetch(message_id=message.pk) == 0
    assert len([r for r in fake.requests if r.endpoint == "attachment"]) == 1


def test_an_address_that_is_not_metas_is_never_fetched(fake, django_capture_on_commit_callbacks):
    message = _message_with(
        Attachment(type="image", url="https://evil.example/track.jpg"), capture=django_capture_on_commit_callbacks
    )
    [kept] = message.attachments
    assert "blob" not in kept and "url" not in kept
    assert "not a Meta address" in kept["error"]
    assert fake.requests == []


def test_an_attachment_over_the_limit_is_noted_not_kept(fake, settings, django_capture_on_commit_callbacks):
    settings.FIG_INBOX_ATTACHMENT_MAX_BYTES = 1024
    url = fake.add_attachment("/cdn/big.jpg", JPEG * 10, "image/jpeg")
    message = _message_with(Attachment(type="image", url=url), capture=django_capture_on_commit_callbacks)
    [kept] = message.attachments
    assert "blob" not in kept and "too large" in kept["error"]


def test_shares_and_locations_have_nothing_to_fetch(fake, django_capture_on_commit_callbacks):
    url = fake.add_attachment("/cdn/x.jpg", JPEG, "image/jpeg")
    message = _message_with(
        Attachment(type="share", url=url, title="A link"),
        Attachment(type="location"),
        capture=django_capture_on_commit_callbacks,
    )
    assert [a.get("blob") for a in message.attachments] == [None, None]
    assert [a["title"] for a in message.attachments] == ["A link", ""]
    assert fake.requests == []


def test_a_message_with_no_attachments_queues_no_fetch(fake, django_capture_on_commit_callbacks):
    message = _message_with(capture=django_capture_on_commit_callbacks)
    assert message.attachments == [] and message.attachments_fetched_at is None
