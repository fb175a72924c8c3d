"""The inbox sweep: reminders, escalations, the daily digest and takedown escalations.

Beat runs it every 15 minutes; `manage.py inbox_sweep` runs the same code once.
Each kind of notice is sent at most once per message: the sweep claims due rows
in the database with select_for_update(skip_locked=True), stamps them and sends
after commit. Nothing lives in Redis, so a broker that lost its data changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from social.models import LONDON, DigestSent, InboxMessage, Takedown
from staff.models import User
from staff.notifications import notify
from staff.roles import Role

BATCH = 500


def _emails(*roles: Role) -> list[str]:
    return list(
        User.objects.filter(is_active=True, groups__name__in=[r.value for r in roles])
        .distinct().values_list("email", flat=True)
    )


def _claim(queryset, stamp_field: str, now: datetime) -> list[InboxMessage]:
    """Lock up to BATCH due rows no other sweep holds, and stamp them. Call inside a transaction."""
    rows = list(queryset.select_for_update(skip_locked=True, of=("self",))[:BATCH])
    InboxMessage.objects.filter(pk__in=[r.pk for r in rows]).update(**{stamp_field: now})
    return rows


def send_reminders(now: datetime) -> int:
    """When FIG_INBOX_REMIND_DAYS_LEFT days remain: the assignee, or every social administrator."""
    with transaction.atomic():
        due = _claim(
            InboxMessage.objects.filter(
                status=InboxMessage.Status.OPEN, reminder_sent_at__isnull=True,
                due_at__lte=now + timedelta(days=settings.FIG_INBOX_REMIND_DAYS_LEFT),
            ).select_related("assignee").order_by("due_at"),
            "reminder_sent_at", now,
        )
        admins = _emails(Role.SOCIAL_ADMIN)
        for message in due:
            notify(
                to=[message.assignee.email] if message.assignee else admins,
                subject=f"Reply due by {timezone.localtime(message.due_at, LONDON):%A %-d %B, %H:%M}",
                template="social/email/reminder.txt",
                context={"message": message, "link": settings.FIG_SITE_URL + reverse("social:message", args=[message.pk])},
                separately=True,
            )
    return len(due)


def send_escalations(now: datetime) -> int:
    """Overdue: the social administrators and the CEO, once per message."""
    with transaction.atomic():
        due = _claim(
            InboxMessage.objects.filter(
                status=InboxMessage.Status.OPEN, escalated_at__isnull=True, due_at__lte=now
            ).order_by("due_at"),
            "escalated_at", now,
        )
        if due:
            notify(
                to=_emails(Role.SOCIAL_ADMIN, Role.CEO),
                subject=f"{len(due)} social media message{'s are' if len(due) != 1 else ' is'} past the one-week deadline",
                template="social/email/escalation.txt",
                context={"messages": due, "link": settings.FIG_SITE_URL + reverse("social:inbox") + "?tab=overdue"},
                separately=True,
            )
    return len(due)


def send_digest(now: datetime) -> int:
    """Once per London day after 08:00: open and overdue counts to the social administrators."""
    local = timezone.localtime(now, LONDON)
    if local.hour < 8:
        return 0
    try:
        with transaction.atomic():
            DigestSent.objects.create(day=local.date(), sent_at=now)
            open_messages = InboxMessage.objects.filter(status=InboxMessage.Status.OPEN)
            notify(
                to=_emails(Role.SOCIAL_ADMIN),
                subject=f"Social media inbox, {local:%A %-d %B}",
                template="social/email/digest.txt",
                context={
                    "open": open_messages.count(), "overdue": open_messages.filter(due_at__lte=now).count(),
                    "urgent": open_messages.filter(urgent=True).count(),
                    "takedowns": Takedown.objects.filter(status=Takedown.Status.OPEN).count(),
                    "link": settings.FIG_SITE_URL + reverse("social:inbox"),
                },
                separately=True,
            )
    except IntegrityError:
        return 0  # today's digest has gone already
    return 1


def escalate_takedowns(now: datetime) -> int:
    """Hourly while a takedown is open: the social administrators; once overdue, the CEO too."""
    with transaction.atomic():
        rows = list(
            Takedown.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Takedown.Status.OPEN)
            .exclude(last_escalated_at__gt=now - timedelta(hours=1))[:BATCH]
        )
        Takedown.objects.filter(pk__in=[t.pk for t in rows]).update(last_escalated_at=now)
        by_audience = defaultdict(list)
        for takedown in rows:
            by_audience[takedown.due_at <= now].append(takedown)
        for overdue, takedowns in by_audience.items():
            roles = (Role.SOCIAL_ADMIN, Role.CEO) if overdue else (Role.SOCIAL_ADMIN,)
            notify(
                to=_emails(*roles),
                subject=f"{len(takedowns)} takedown{'s' if len(takedowns) != 1 else ''} still open"
                + (" and overdue" if overdue else ""),
                template="social/email/takedown_escalation.txt",
                context={"takedowns": takedowns, "overdue": overdue,
                         "link": settings.FIG_SITE_URL + reverse("social:takedowns")},
                separately=True,
            )
    return len(rows)


def inbox_sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {
        "reminders": send_reminders(now),
        "escalations": send_escalations(now),
        "digest": send_digest(now),
        "takedown_escalations": escalate_takedowns(now),
    }
