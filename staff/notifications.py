"""Sending email from the app through an outbox table.

`notify` renders the message now and writes it to the outbox in the caller's
transaction: if the change rolls back, so does the email. After commit a Celery
task delivers it; if the broker is down then, the outbox sweep that beat runs
every minute delivers it instead. Each row is claimed, sent with no row locked,
and stamped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from staff.models import OutboxEmail

BATCH = 100
MAX_ATTEMPTS = 20
# A claim this old was interrupted: the delivery that made it gave up long ago (each send has a timeout).
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Email:
    """One email to queue: `separately` sends one message per recipient so nobody sees the others' addresses."""

    to: list[str]
    subject: str
    template: str
    context: dict[str, Any]
    separately: bool = False


def notify(*, to: list[str], subject: str, template: str, context: dict[str, Any], separately: bool = False) -> None:
    """Queue an email to `to`; it goes once the surrounding transaction commits."""
    notify_all([Email(to=to, subject=subject, template=template, context=context, separately=separately)])


def notify_all(emails: Iterable[Email]) -> None:
    """Queue many emails in one insert, delivered by one task after the commit (for sweeps)."""
    rows = []
    for email in emails:
        body = render_to_string(email.template, email.context)
        recipients = [address for address in dict.fromkeys(email.to) if address]
        batches = [[address] for address in recipients] if email.separately else [recipients]
        rows.extend(OutboxEmail(subject=email.subject[:300], body=body, to=batch) for batch in batches if batch)
    if not rows:
        return
    created = OutboxEmail.objects.bulk_create(rows, batch_size=500)
    from staff.tasks import deliver_outbox

    # With the broker down, the every-minute outbox sweep delivers them instead.
    queue_after_commit(deliver_outbox, [row.pk for row in created])


def deliver_outbox(ids: list[int] | None = None) -> int:
    """Send unsent emails: these ids (after a commit), or every one (the sweep).

    Safe to run many times at once: a batch is claimed (stamped claimed_at) in a short transaction, and the
    mail server is called after that commits, with no row locked; each email is then stamped sent, or
    released with its error for the next sweep. A claim older than CLAIM_LEASE was interrupted part of the
    way (a worker that died): the mail server may or may not have taken it, and it is sent again, because a
    reminder that arrives twice does less harm than one that never arrives.
    """
    sent = 0
    while True:
        now = timezone.now()
        pending = OutboxEmail.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS).filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lte=now - CLAIM_LEASE)
        )
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        rows: list[OutboxEmail] = []
        claim_and_stamp(
            pending.order_by("created_at", "id"),
            stamp="claimed_at",
            now=now,
            handle=rows.extend,
            batch=BATCH,
            once=True,
        )
        if not rows:
            return sent
        sent += _send(rows, claimed_at=now)
        if len(rows) < BATCH:
            return sent


def _send(rows: list[OutboxEmail], *, claimed_at) -> int:
    """Call the mail server for claimed rows (no transaction open) and record each outcome. A row whose claim
    another delivery has taken over since (an expired lease) is left to that delivery."""
    sent = 0
    with get_connection() as connection:
        for row in rows:
            mine = OutboxEmail.objects.filter(pk=row.pk, claimed_at=claimed_at, sent_at__isnull=True)
            try:
                connection.send_messages([EmailMessage(subject=row.subject, body=row.body, to=row.to)])
            except Exception as exc:  # noqa: BLE001 - any failure leaves the row for the next sweep
                mine.update(attempts=F("attempts") + 1, last_error=str(exc)[:300], claimed_at=None)
                continue
            sent += mine.update(sent_at=timezone.now(), attempts=F("attempts") + 1)
    return sent


def prune_outbox() -> int:
    """Delete emails sent more than FIG_OUTBOX_KEEP_DAYS ago.

    A sent email has done its job, and its body may hold a link that signs
    someone in or opens a consent form; the audit trail keeps what happened.
    """
    cutoff = timezone.now() - timedelta(days=settings.FIG_OUTBOX_KEEP_DAYS)
    deleted, _ = OutboxEmail.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
