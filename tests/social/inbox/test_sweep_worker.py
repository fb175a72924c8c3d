"""A real Celery worker, on a real Redis and this test's PostgreSQL database, runs the inbox sweep.

The worker process is started as in tests/project/test_celery.py, with the
test database's name in DATABASE_URL and EMAIL_URL=filemail:// into a temporary
folder, so its emails can be counted as .eml files. Its broker, results and
cache are on a Redis server of the test's own (the private_redis fixture), so
the test can empty it with a real FLUSHALL without touching other test runs.
"""

# disable_sync_subtasks=False on every .get(): eager tasks run earlier in this test process can leave
# Celery believing it is inside a task, and it then refuses to wait on a result. We are a client here.

from __future__ import annotations

import email
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from django.conf import settings
from django.utils import timezone

from fig_safety.times import LONDON, when
from social.models import Conversation, DigestSent, Platform, policy_due_at
from tests import factories
from tests.processes import fresh_environment
from tests.services import SERVICES


def _database_url() -> str:
    """The URL of the database this test is using (the test database, not fig_safety)."""
    return urlunsplit(urlsplit(SERVICES.postgres_url)._replace(path="/" + settings.DATABASES["default"]["NAME"]))


@contextmanager
def _worker(tmp_path: Path, *, redis_url: str) -> Iterator[Path]:
    """A worker process for the test's lifetime; yields the folder its emails land in."""
    mailbox = tmp_path / "mail"
    log = tmp_path / "worker.log"
    env = fresh_environment(
        DJANGO_SETTINGS_MODULE="fig_safety.settings",
        DJANGO_DEBUG="1",
        FIG_CELERY_EAGER="0",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        EMAIL_URL=f"filemail://{mailbox}",
        FIG_VAR_DIR=str(tmp_path / "var"),
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fig_safety",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield mailbox
    except BaseException as exc:
        _stop(process)
        exc.add_note("--- worker output ---\n" + log.read_text()[-4000:])
        raise
    _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _sweep_through(client: Celery) -> dict[str, int]:
    """Send the sweep as beat does, wait for it, then for the emails it queued.

    The ping goes in behind the sweep's deliver_outbox tasks on the same (default)
    queue, and one solo worker takes them in order, so when it answers they are all sent.
    """
    counts = client.send_task("social.tasks.inbox_sweep", ignore_result=False).get(
        timeout=90, disable_sync_subtasks=False
    )
    assert client.send_task("fig_safety.ping", args=["sent"]).get(timeout=60, disable_sync_subtasks=False) == "sent"
    return counts


def _mailbox(folder: Path) -> list[tuple[str, str]]:
    """(recipient, subject) of each .eml file the worker wrote."""
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes())
        found.append((message["To"], message["Subject"]))
    return sorted(found)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_sweep_and_after_a_redis_flushall_sends_nothing_more(tmp_path, private_redis):
    now = timezone.now()  # the worker reads the real clock
    admin, other_admin = (factories.staff_user("social_admin", email=f"admin{n}@example.org") for n in (1, 2))
    ceo = factories.staff_user("ceo", email="ceo@example.org")
    soon = Conversation.objects.create(
        platform=Platform.MESSENGER,
        received_at=now - timedelta(days=6),
        assignee=admin,
        due_at=policy_due_at(now - timedelta(days=6)),
    )
    late = Conversation.objects.create(
        platform=Platform.FACEBOOK,
        kind=Conversation.Kind.COMMENT,
        received_at=now - timedelta(days=8),
        due_at=policy_due_at(now - timedelta(days=8)),
    )
    today = timezone.localtime(now, LONDON).date()
    DigestSent.objects.bulk_create([DigestSent(day=today), DigestSent(day=today + timedelta(days=1))])  # no digest

    redis_url = private_redis.url()
    store = private_redis.client()
    with (
        Celery("probe", set_as_current=False, broker=redis_url, backend=redis_url) as client,
        _worker(tmp_path, redis_url=redis_url) as mailbox,
    ):
        counts = _sweep_through(client)
        assert counts == {
            "deliveries_resumed": 0,
            "flags_recovered": 0,
            "fetches_resumed": 0,
            "replies_resumed": 0,
            "reminders": 2,
            "escalations": 1,
            "digest": 0,
            "takedown_escalations": 0,
            "removals_resumed": 0,
        }
        sent = _mailbox(mailbox)
        soon.refresh_from_db()
        late.refresh_from_db()
        stamps = [(soon.reminder_sent_at, soon.escalated_at), (late.reminder_sent_at, late.escalated_at)]

        assert store.dbsize() > 0  # queue bindings and results: the broker had data to lose
        assert store.flushall()
        assert store.dbsize() == 0
        assert _sweep_through(client) == {
            "deliveries_resumed": 0,
            "flags_recovered": 0,
            "fetches_resumed": 0,
            "replies_resumed": 0,
            "reminders": 0,
            "escalations": 0,
            "digest": 0,
            "takedown_escalations": 0,
            "removals_resumed": 0,
        }
        assert _mailbox(mailbox) == sent

    assert soon.reminder_sent_at is not None and soon.escalated_at is None
    assert late.reminder_sent_at is not None and late.escalated_at is not None
    soon.refresh_from_db()
    late.refresh_from_db()
    assert [(soon.reminder_sent_at, soon.escalated_at), (late.reminder_sent_at, late.escalated_at)] == stamps

    # One .eml per recipient: the assignee's reminder, a reminder to each admin for the unassigned
    # message, and one escalation to each admin and the CEO.
    reminder_soon = f"Reply due by {when(soon.due_at)}"
    reminder_late = f"Reply due by {when(late.due_at)}"
    escalation = "1 social media message is past the one-week deadline"
    assert sent == sorted(
        [
            (admin.email, reminder_soon),
            (admin.email, reminder_late),
            (other_admin.email, reminder_late),
            (admin.email, escalation),
            (other_admin.email, escalation),
            (ceo.email, escalation),
        ]
    )
