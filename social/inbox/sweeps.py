"""The inbox sweep: reminders, escalations, the daily digest and takedown escalations; and the work of
tasks lost with the broker (deliveries, flagging, attachments, replies, removals) queued or done again.

Beat runs it every 15 minutes; `manage.py inbox_sweep` runs the same code once.
Each kind of notice is sent at most once per message: the sweep claims due rows
in the database with select_for_update(skip_locked=True), stamps them and sends
after commit. Nothing lives in Redis, so a broker that lost its data changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from fig_safety.sweeps import claim_and_stamp
from fig_safety.times import LONDON, when
from social.inbox.attachments import resume_fetches
from social.inbox.ingest import resume_deliveries
from social.inbox.replies import resume_replies
from social.inbox.selectors import inbox_digest
from social.inbox.services import resume_removals
from social.models import Conversation, DigestSent, Message, Takedown
from social.templatetags.social_tags import time_left
from staff.notifications import Email, notify, notify_all
from staff.roles import Role
from staff.selectors import emails_of

# Rows claimed, stamped and notified in one transaction (fig_safety.sweeps.claim_and_stamp), batch after batch.
BATCH = 1000


def send_reminders(now: datetime) -> int:
    """When FIG_INBOX_REMIND_DAYS_LEFT days remain: the assignee, or every social administrator; and the
    member of staff it was passed on to, who is the one expected to answer it."""
    due = (
        Conversation.objects.filter(
            status=Conversation.Status.OPEN,
            reminder_sent_at__isnull=True,
            due_at__lte=now + timedelta(days=settings.FIG_INBOX_REMIND_DAYS_LEFT),
        )
        .select_related("assignee", "passed_to")
        .order_by("due_at", "id")
    )

    def recipients(message: Conversation, admins: list[str]) -> list[str]:
        to = [message.assignee.email] if message.assignee else list(admins)
        if message.passed_to and message.passed_to.email not in to:
            to.append(message.passed_to.email)
        return to

    def remind(messages: list[Conversation]) -> None:
        admins = emails_of(Role.SOCIAL_ADMIN)
        notify_all(
            Email(
                to=recipients(message, admins),
                subject=f"Reply due by {when(message.due_at)}",
                template="social/inbox/email/reminder.txt",
                context={
                    "message": message,
                    "link": settings.FIG_SITE_URL + reverse("social:message", args=[message.pk]),
                },
                separately=True,
            )
            for message in messages
        )

    return claim_and_stamp(due, stamp="reminder_sent_at", now=now, handle=remind, batch=BATCH)


def send_escalations(now: datetime) -> int:
    """Overdue: the social administrators and the CEO, once per message (one email per batch)."""
    due = Conversation.objects.filter(
        status=Conversation.Status.OPEN, escalated_at__isnull=True, due_at__lte=now
    ).order_by("due_at", "id")

    def escalate(messages: list[Conversation]) -> None:
        notify(
            to=emails_of(Role.SOCIAL_ADMIN, Role.CEO),
            subject=f"{len(messages)} social media message{'s are' if len(messages) != 1 else ' is'} past the one-week deadline",
            template="social/inbox/email/escalation.txt",
            context={"messages": messages, "link": settings.FIG_SITE_URL + reverse("social:inbox") + "?tab=overdue"},
            separately=True,
        )

    return claim_and_stamp(due, stamp="escalated_at", now=now, handle=escalate, batch=BATCH)


@dataclass(frozen=True)
class DigestLine:
    """One message or takedown in the digest, as plain text."""

    what: str  # "Messenger private message from Jo Bloggs"
    excerpt: str
    due: str  # "due Friday 14 March, 10:00 (2 days left)", in London
    notes: list[str]
    link: str


# Enough of a message to recognise it. The digest goes to the social administrators, who may read the
# whole message in the inbox anyway, but an email is kept and forwarded: it carries no more than this.
EXCERPT_CHARS = 80


def _excerpt(text: str) -> str:
    """The text on one line, cut to EXCERPT_CHARS with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def _due(due_at: datetime, now: datetime, *, verb: str = "due") -> str:
    left = time_left(due_at, now).text
    return f"{verb} {when(due_at)} ({left[0].lower()}{left[1:]})"


def _what(message: Conversation) -> str:
    sender = message.sender_name or message.sender_id
    return f"{message.get_platform_display()} {message.get_kind_display().lower()}" + (
        f" from {sender}" if sender else ""
    )


def _message_line(message: Conversation, now: datetime) -> DigestLine:
    notes = []
    if message.urgent:
        notes.append("Flagged: it may identify a family.")
    if message.assignee:
        notes.append(f"Assigned to {message.assignee}.")
    if message.passed_to:
        notes.append(f"Passed on to {message.passed_to}.")
    return DigestLine(
        what=_what(message),
        excerpt=_excerpt(message.text),
        due=_due(message.due_at, now, verb="was due" if message.due_at <= now else "due"),
        notes=notes,
        link=settings.FIG_SITE_URL + reverse("social:message", args=[message.pk]),
    )


def _takedown_line(takedown: Takedown, now: datetime) -> DigestLine:
    if takedown.message:
        what, text = _what(takedown.message), takedown.message.text
    elif takedown.post:
        what, text = f"Post #{takedown.post.pk}", takedown.post.text
    else:
        what, text = f"Takedown #{takedown.pk}", ""
    return DigestLine(
        what=what,
        excerpt=_excerpt(text),
        due=_due(takedown.due_at, now, verb="must be down by"),
        notes=[f"Why: {_excerpt(takedown.reason)}"],
        link=settings.FIG_SITE_URL + reverse("social:takedowns") + f"#takedown-{takedown.pk}",
    )


# The digest is a morning email: it goes from this hour on London's clock.
DIGEST_HOUR = 8


def send_digest(now: datetime) -> int:
    """Once per London day after 08:00, to the social administrators: the counts, then the overdue
    messages, the open ones with the least time left and the open takedowns (up to DIGEST_LIMIT each)."""
    local = timezone.localtime(now, LONDON)
    if local.hour < DIGEST_HOUR:
        return 0
    try:
        with transaction.atomic():
            DigestSent.objects.create(day=local.date(), sent_at=now)
            digest = inbox_digest(now)
            inbox = settings.FIG_SITE_URL + reverse("social:inbox")
            notify(
                to=emails_of(Role.SOCIAL_ADMIN),
                subject=f"Social media inbox, {local:%A %-d %B}",
                template="social/inbox/email/digest.txt",
                context={
                    "digest": digest,
                    "overdue": [_message_line(m, now) for m in digest.overdue_messages],
                    "due_soonest": [_message_line(m, now) for m in digest.due_soonest],
                    "takedowns": [_takedown_line(t, now) for t in digest.takedowns],
                    "link": inbox,
                    "overdue_link": inbox + "?tab=overdue",
                    "takedowns_link": settings.FIG_SITE_URL + reverse("social:takedowns"),
                },
                separately=True,
            )
    except IntegrityError:
        return 0  # today's digest has gone already
    return 1


def digest_skip_today(now: datetime) -> bool:
    """Count today's digest as gone without sending it, if it is due already; True if this skipped it.

    `seed_demo` calls this, and `make run` seeds at every start: a demo started at 11:00 should not open
    with a morning email about an inbox nobody has used yet. Tomorrow's digest goes at 08:00 as usual.
    """
    local = timezone.localtime(now, LONDON)
    if local.hour < DIGEST_HOUR:
        return False
    _, created = DigestSent.objects.get_or_create(day=local.date(), defaults={"sent_at": now})
    return created


def escalate_takedowns(now: datetime) -> int:
    """Hourly while a takedown is open: the social administrators; once overdue, the CEO too."""
    due = (
        Takedown.objects.filter(status=Takedown.Status.OPEN)
        .exclude(last_escalated_at__gt=now - timedelta(hours=1))
        .order_by("due_at", "id")
    )

    def escalate(takedowns: list[Takedown]) -> None:
        by_audience = defaultdict(list)
        for takedown in takedowns:
            by_audience[takedown.due_at <= now].append(takedown)
        for overdue, these in by_audience.items():
            roles = (Role.SOCIAL_ADMIN, Role.CEO) if overdue else (Role.SOCIAL_ADMIN,)
            notify(
                to=emails_of(*roles),
                subject=f"{len(these)} takedown{'s' if len(these) != 1 else ''} still open"
                + (" and overdue" if overdue else ""),
                template="social/inbox/email/takedown_escalation.txt",
                context={
                    "takedowns": these,
                    "overdue": overdue,
                    "link": settings.FIG_SITE_URL + reverse("social:takedowns"),
                },
                separately=True,
            )

    return claim_and_stamp(due, stamp="last_escalated_at", now=now, handle=escalate, batch=BATCH)


# A message not checked for names this long after it was stored lost its flagging task: the sweep checks it.
FLAG_LOST_AFTER = timedelta(minutes=3)


def flag_lost(now: datetime) -> int:
    """Messages whose flagging task was lost (a broker restart, a worker killed) are checked now."""
    from social.inbox.services import message_flag

    waiting = list(
        Message.objects.filter(flagged_at__isnull=True, stored_at__lte=now - FLAG_LOST_AFTER)
        .order_by("stored_at", "id")
        .values_list("pk", flat=True)[:BATCH]
    )
    for message_id in waiting:
        message_flag(message_id=message_id)
    return len(waiting)


def inbox_sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {
        "deliveries_resumed": resume_deliveries(now),
        "flags_recovered": flag_lost(now),
        "fetches_resumed": resume_fetches(now),
        "replies_resumed": resume_replies(now),
        "reminders": send_reminders(now),
        "escalations": send_escalations(now),
        "digest": send_digest(now),
        "takedown_escalations": escalate_takedowns(now),
        "removals_resumed": resume_removals(now),
    }
