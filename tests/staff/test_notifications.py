"""Email goes through an outbox table: written with the change, sent once after commit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from staff.models import OutboxEmail
from staff.notifications import CLAIM_LEASE, deliver_outbox, notify

TEMPLATE = "staff/email/breach_status.txt"
CONTEXT = {"report": {"pk": 7}, "link": "https://x"}


@pytest.mark.django_db
def test_it_sends_after_commit_one_message_per_recipient_when_asked(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            to=["a@example.org", "b@example.org"], subject="Hello", template=TEMPLATE, context=CONTEXT, separately=True
        )
        assert mail.outbox == []  # nothing leaves before the commit
        assert OutboxEmail.objects.filter(sent_at__isnull=True).count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.org", "b@example.org"]
    assert not OutboxEmail.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_it_sends_nothing_when_the_transaction_rolls_back():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        notify(to=["a@example.org"], subject="Hello", template=TEMPLATE, context=CONTEXT)
        raise Boom
    assert mail.outbox == []
    assert not OutboxEmail.objects.exists()


@pytest.mark.django_db
def test_each_email_is_sent_once_however_often_the_outbox_is_delivered():
    notify(to=["a@example.org"], subject="Once", template=TEMPLATE, context=CONTEXT)
    assert deliver_outbox() == 1
    assert deliver_outbox() == 0
    assert [m.subject for m in mail.outbox] == ["Once"]


@pytest.mark.django_db
def test_it_keeps_an_email_the_mail_server_refused_for_the_next_sweep(settings):
    settings.EMAIL_BACKEND = "tests.staff.test_notifications.BrokenBackend"
    notify(to=["a@example.org"], subject="Later", template=TEMPLATE, context=CONTEXT)
    assert deliver_outbox() == 0
    row = OutboxEmail.objects.get()
    assert row.sent_at is None and row.attempts == 1 and "refused" in row.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert deliver_outbox() == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_loses_no_email(monkeypatch):
    """The task cannot be queued after commit: the outbox sweep sends the email later."""
    from staff import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.deliver_outbox, "delay", broker_down)
    with transaction.atomic():
        notify(to=["a@example.org"], subject="Survives", template=TEMPLATE, context=CONTEXT)
    assert mail.outbox == []
    assert tasks.deliver_outbox.apply().get() == 1  # what beat runs every minute
    assert [m.subject for m in mail.outbox] == ["Survives"]


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def open(self):
        pass

    def close(self):
        pass

    def send_messages(self, messages):
        raise OSError("the mail server refused the connection")


@pytest.mark.django_db
def test_the_sweep_deletes_emails_sent_long_ago_and_keeps_the_rest(settings):
    from datetime import timedelta

    from django.utils import timezone

    from staff import tasks

    settings.FIG_OUTBOX_KEEP_DAYS = 7
    notify(to=["old@example.org"], subject="Old", template=TEMPLATE, context=CONTEXT)
    notify(to=["recent@example.org"], subject="Recent", template=TEMPLATE, context=CONTEXT)
    deliver_outbox()
    OutboxEmail.objects.filter(subject="Old").update(sent_at=timezone.now() - timedelta(days=8))
    settings.EMAIL_BACKEND = "tests.staff.test_notifications.BrokenBackend"
    notify(to=["unsent@example.org"], subject="Unsent", template=TEMPLATE, context=CONTEXT)
    OutboxEmail.objects.filter(subject="Unsent").update(created_at=timezone.now() - timedelta(days=30))
    tasks.deliver_outbox.delay(
        [OutboxEmail.objects.get(subject="Unsent").pk]
    )  # a delivery after a commit prunes nothing
    assert OutboxEmail.objects.filter(subject="Old").exists()
    tasks.deliver_outbox.delay()  # the every-minute sweep
    assert sorted(OutboxEmail.objects.values_list("subject", flat=True)) == ["Recent", "Unsent"]


@pytest.mark.django_db
def test_a_claim_that_was_interrupted_is_sent_again_after_its_lease_and_a_fresh_one_is_not(settings):
    """A worker that died after claiming: its emails wait for the lease, then go (at least once)."""
    notify(to=["a@example.org"], subject="Interrupted", template=TEMPLATE, context=CONTEXT)
    notify(to=["b@example.org"], subject="Being sent", template=TEMPLATE, context=CONTEXT)
    now = timezone.now()
    OutboxEmail.objects.filter(subject="Interrupted").update(claimed_at=now - CLAIM_LEASE - timedelta(seconds=1))
    OutboxEmail.objects.filter(subject="Being sent").update(claimed_at=now - timedelta(seconds=5))
    assert deliver_outbox() == 1
    assert [m.subject for m in mail.outbox] == ["Interrupted"]
    row = OutboxEmail.objects.get(subject="Interrupted")
    assert row.sent_at is not None and row.attempts == 1
    assert OutboxEmail.objects.get(subject="Being sent").sent_at is None  # another delivery holds it


class LockProbingBackend(BaseEmailBackend):
    """A mail server that, while it is being spoken to, checks from another connection that no outbox row
    is locked (NOWAIT fails at once on a locked row)."""

    seen: list[object] = []

    def send_messages(self, messages) -> int:
        def probe() -> None:
            from django.db import connection as thread_connection

            try:
                with transaction.atomic():
                    LockProbingBackend.seen.append(len(OutboxEmail.objects.select_for_update(nowait=True)))
            except Exception as exc:  # noqa: BLE001 - a lock error is what the test reports
                LockProbingBackend.seen.append(exc)
            finally:
                thread_connection.close()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(10)
        return len(messages)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_mail_server_is_called_with_no_outbox_row_locked(settings):
    """Invariant: no network call while a database row is locked."""
    settings.EMAIL_BACKEND = "tests.staff.test_notifications.LockProbingBackend"
    LockProbingBackend.seen = []
    with transaction.atomic():
        notify(
            to=["a@example.org", "b@example.org"], subject="Hello", template=TEMPLATE, context=CONTEXT, separately=True
        )
    # The commit queued a delivery (eager): it called the server twice, with nothing locked either time.
    assert LockProbingBackend.seen == [2, 2]
    assert OutboxEmail.objects.filter(sent_at__isnull=False).count() == 2
