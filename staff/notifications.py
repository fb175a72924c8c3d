"""Sending email from the app through an outbox table.

`notify` renders the message now and writes it to the outbox in the caller's
transaction: if the change rolls back, so does the email. After commit a Celery
task delivers it; if the broker is down then, the outbox sweep that beat runs
every minute delivers it instead. Each row is claimed, sent with no row locked,
and stamped. An attachment is stored as what it is of (a record's id) and built
when the email is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, Q
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from staff.models import OutboxEmail

BATCH = 100
MAX_ATTEMPTS = 20
# A claim this old was interrupted: the delivery that made it gave up long ago (each send has a timeout).
CLAIM_LEASE = timedelta(minutes=10)
# What an outbox row's attachments name ({"kind": ..., ids}), and the function that builds each one when the
# email is sent: given the stored dict, it returns (filename, content, MIME type).
ATTACHMENT_BUILDERS = {"consent_certificate": "consents.certificate_pdf.email_attachment"}


@dataclass(frozen=True)
class Email:
    """One email to queue: `separately` sends one message per recipient so nobody sees the others' addresses."""

    to: list[str]
    subject: str
    template: str
    context: dict[str, Any]
    separately: bool = False
    attachments: tuple[dict[str, Any], ...] = ()  # each built when the email is sent (ATTACHMENT_BUILDERS)


def notify(
    *,
    to: list[str],
    subject: str,
    template: str,
    context: dict[str, Any],
    separately: bool = False,
    attachments: list[dict[str, Any]] | None = None,
) -> None:
    """Queue an email to `to`; it goes once the surrounding transaction commits."""
    notify_all(
        [
            Email(
                to=to,
                subject=subject,
                template=template,
                context=context,
                separately=separately,
                attachments=tuple(attachments or ()),
            )
        ]
    )


def notify_all(emails: Iterable[Email]) -> None:
    """Queue many emails in one insert, delivered by one task after the commit (for sweeps)."""
    rows = []
    for email in emails:
        body = render_email(email.template, email.context)
        recipients = [address for address in dict.fromkeys(email.to) if address]
        batches = [[address] for address in recipients] if email.separately else [recipients]
        for kind in (spec["kind"] for spec in email.attachments):
            if kind not in ATTACHMENT_BUILDERS:
                raise ValueError(f"No builder for attachments of kind {kind!r}.")
        rows.extend(
            OutboxEmail(subject=email.subject[:300], body=body, to=batch, attachments=list(email.attachments))
            for batch in batches
            if batch
        )
    if not rows:
        return
    created = OutboxEmail.objects.bulk_create(rows, batch_size=500)
    from staff.tasks import deliver_outbox

    # With the broker down, the every-minute outbox sweep delivers them instead.
    queue_after_commit(deliver_outbox, [row.pk for row in created])


def render_email(template: str, context: dict[str, Any]) -> str:
    """An email's body. A plain-text (.txt) template is rendered without HTML escaping, so "FiG's" and
    "O'Neil & Sons" arrive as written rather than as FiG&#x27;s and O&#x27;Neil &amp; Sons; anything else
    (an HTML email) is escaped as a page is."""
    if not template.endswith(".txt"):
        return render_to_string(template, context)
    # The engine's own Template (cached, with its includes and blocks), given a context that turns escaping off.
    return get_template(template).template.render(Context(context, autoescape=False))


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
                message = EmailMessage(subject=row.subject, body=row.body, to=row.to)
                for spec in row.attachments:
                    message.attach(*import_string(ATTACHMENT_BUILDERS[spec["kind"]])(spec))
                connection.send_messages([message])
            except Exception as exc:  # noqa: BLE001 - any failure (building an attachment too) leaves the row for the next sweep
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
