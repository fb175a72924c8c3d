"""Attachments whose fetching task was lost with the broker (issue 17, point 3) are fetched by the inbox sweep
a few minutes later, once, against the fake Graph API's CDN; given up on after a day, as Meta's links expire;
and a fetch that ran and failed is not tried again."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from fig_safety.vault import vault_read
from social.inbox import services, sweeps
from social.inbox.attachments import FETCH_GIVEN_UP_AFTER, FETCH_LOST_AFTER, NOT_FETCHED, attachments_fetch
from social.inbox.meta import Attachment, Event
from social.inbox.selectors import _attachments
from social.models import Message
from tests.social.broker import QUEUE_LOG, broker_away, refused_tasks
from tests.social.fake_graph import page_graph

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"a photo that may show a child" * 40
SECOND = timedelta(seconds=1)


@pytest.fixture
def fake(settings):
    with page_graph(settings) as fake:
        yield fake


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """The inbox sweep at `now`, the tasks it queues run as a worker would; what it resumed of attachments."""

    def run(now) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return sweeps.inbox_sweep(now)["fetches_resumed"]

    return run


def _ingest(capture, *attachments: Attachment, platform_id: str = "m-lost", from_fig: bool = False) -> Message:
    event = Event(
        platform="messenger",
        kind="message",
        action="add",
        platform_id=platform_id,
        person_id="psid-1",
        person_name="",
        text="",
        at=timezone.now() - timedelta(minutes=1),
        from_fig=from_fig,
        attachments=attachments,
    )
    with capture(execute=True):
        message = services.event_ingest(event)
    message.refresh_from_db()
    return message


def _fetches(fake) -> int:
    return len(fake.to("attachment"))


def test_attachments_whose_fetch_was_lost_with_the_broker_are_fetched_once_by_the_sweep(
    fake, sweep, caplog, django_capture_on_commit_callbacks
):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    with broker_away() as refused, caplog.at_level(logging.WARNING, logger=QUEUE_LOG):
        message = _ingest(django_capture_on_commit_callbacks, Attachment(type="image", url=url))
    assert ("social.tasks.fetch_attachments", (message.pk,)) in refused_tasks(refused)
    assert any(r.getMessage().startswith("Could not queue social.tasks.fetch_attachments") for r in caplog.records)
    assert _fetches(fake) == 0 and message.attachments_fetched_at is None
    assert message.attachments == [{"type": "image", "title": "", "url": url}]

    stored = message.stored_at
    assert sweep(stored + FETCH_LOST_AFTER - SECOND) == 0  # the task may just be slow
    assert _fetches(fake) == 0

    with broker_away():  # still away: the sweep tries, and the next one tries again
        assert sweep(stored + FETCH_LOST_AFTER) == 1
    assert _fetches(fake) == 0

    assert sweep(stored + FETCH_LOST_AFTER + 15 * timedelta(minutes=1)) == 1
    assert _fetches(fake) == 1
    message.refresh_from_db()
    [kept] = message.attachments
    assert "url" not in kept and vault_read(name=kept["blob"], key_id=kept["key_id"]) == JPEG
    assert message.attachments_fetched_at is not None

    assert sweep(stored + FETCH_LOST_AFTER + 30 * timedelta(minutes=1)) == 0
    assert sweep(stored + FETCH_GIVEN_UP_AFTER + SECOND) == 0  # kept: nothing to give up on either
    assert _fetches(fake) == 1
    assert fake.problems == []


def test_attachments_not_fetched_within_a_day_are_given_up_on_and_say_why(
    fake, sweep, django_capture_on_commit_callbacks
):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    shared = "https://www.facebook.com/fig/posts/1"
    with broker_away():
        message = _ingest(
            django_capture_on_commit_callbacks,
            Attachment(type="image", url=url),
            Attachment(type="share", url=shared, title="A link"),
        )
    given_up_at = message.stored_at + FETCH_GIVEN_UP_AFTER

    with broker_away():  # the broker away all day
        assert sweep(given_up_at - SECOND) == 1
    assert sweep(given_up_at) == 1  # given up on, not fetched
    assert _fetches(fake) == 0
    message.refresh_from_db()
    assert message.attachments == [
        {"type": "image", "title": "", "error": NOT_FETCHED},  # Meta's links dropped
        {"type": "share", "title": "A link"},
    ]
    assert message.attachments_fetched_at == given_up_at
    assert [shown.why_not for shown in _attachments(message)] == [
        f"Not kept: {NOT_FETCHED}",
        "Nothing to keep: Meta sends no file for this.",
    ]

    assert sweep(given_up_at + timedelta(minutes=15)) == 0
    assert attachments_fetch(message_id=message.pk) == 0  # the lost task, handed out at last, does nothing
    assert _fetches(fake) == 0


def test_a_fetch_that_ran_and_failed_is_not_tried_again(fake, sweep, django_capture_on_commit_callbacks):
    url = fake.add_attachment("/cdn/gone.jpg", JPEG, "image/jpeg")
    fake.fail_on("attachment", status=404, message="Not found")
    message = _ingest(django_capture_on_commit_callbacks, Attachment(type="image", url=url))
    assert _fetches(fake) == 1
    [noted] = message.attachments
    assert "blob" not in noted and noted["error"].startswith("Meta refused (404")

    assert sweep(message.stored_at + FETCH_LOST_AFTER) == 0
    assert sweep(message.stored_at + FETCH_GIVEN_UP_AFTER) == 0
    assert _fetches(fake) == 1
    message.refresh_from_db()
    assert message.attachments == [noted]


def test_a_fetch_that_crashed_part_of_the_way_is_tried_again(
    fake, sweep, monkeypatch, django_capture_on_commit_callbacks
):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")

    def vault_down(*args, **kwargs):
        raise OSError("the vault's storage is not mounted")

    with monkeypatch.context() as patched:
        patched.setattr("social.inbox.attachments.vault_save", vault_down)
        message = _ingest(django_capture_on_commit_callbacks, Attachment(type="image", url=url))
    assert _fetches(fake) == 1 and message.attachments_fetched_at is None

    assert sweep(message.stored_at + FETCH_LOST_AFTER) == 1
    assert _fetches(fake) == 2
    message.refresh_from_db()
    [kept] = message.attachments
    assert vault_read(name=kept["blob"], key_id=kept["key_id"]) == JPEG


def test_the_sweep_fetches_nothing_for_figs_own_messages_or_messages_without_attachments(
    fake, sweep, django_capture_on_commit_callbacks
):
    url = fake.add_attachment("/cdn/photo.jpg", JPEG, "image/jpeg")
    echo = _ingest(django_capture_on_commit_callbacks, Attachment(type="image", url=url), from_fig=True)
    plain = _ingest(django_capture_on_commit_callbacks, platform_id="m-plain")
    assert echo.attachments_fetched_at is None and plain.attachments_fetched_at is None

    assert sweep(echo.stored_at + FETCH_LOST_AFTER) == 0
    assert sweep(echo.stored_at + FETCH_GIVEN_UP_AFTER) == 0
    assert _fetches(fake) == 0
    echo.refresh_from_db()
    assert echo.attachments_fetched_at is None and echo.attachments[0]["url"] == url
