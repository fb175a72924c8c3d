"""Periodic sweeps for the staff app: they read the database, claim rows and stamp them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from fig_safety.sweeps import claim_and_stamp
from fig_safety.times import when
from staff.models import ICO_DEADLINE, ICO_REMINDERS, BreachReport, PolicyReminder
from staff.notifications import Email, notify, notify_all
from staff.roles import Role
from staff.selectors import current_policy, emails_of, staff_users
from staff.services import breach_timeline_add

REMIND_AFTER = timedelta(days=3)


def policy_reminder_sweep() -> int:
    """Remind, once per version, staff who have not acknowledged a policy published 3+ days ago.

    The PolicyReminder row is the stamp: its unique constraint makes a second
    sweep (or two at once) send nothing more.
    """
    version = current_policy()
    if version is None or timezone.now() - version.published_at < REMIND_AFTER:
        return 0
    pending = (
        staff_users()
        .exclude(policy_acknowledgements__version=version)
        .exclude(pk__in=PolicyReminder.objects.filter(version=version).values("user_id"))
    )
    sent = 0
    for user in pending:
        try:
            with transaction.atomic():
                PolicyReminder.objects.create(version=version, user=user)
                notify(
                    to=[user.email],
                    subject=f"Reminder: please acknowledge the eSafety policy (version {version.number})",
                    template="staff/email/policy_reminder.txt",
                    context={"version": version, "user": user, "link": settings.FIG_SITE_URL + reverse("staff:policy")},
                )
        except IntegrityError:
            continue  # another sweep stamped this one first
        sent += 1
    return sent


def ico_deadline_sweep(now: datetime | None = None) -> dict[str, int]:
    """Remind the CEO of the ICO's 72 hours: 24 hours before the deadline, 4 hours before, and when it has
    passed, each once per report (stamped), for open reports the ICO may have to hear of and has not.

    The most urgent due reminder is the one sent: a report whose FiG became aware 70 hours ago gets the
    4-hour one, and its 24-hour stamp is set too. With no active CEO nothing is stamped, so the reminders
    go once there is one.
    """
    now = now or timezone.now()
    ceos = emails_of(Role.CEO)
    counts = {_count_key(stamp): 0 for stamp in ("ico_overdue_sent_at", *ICO_REMINDERS)}
    if not ceos:
        return counts
    running = (
        BreachReport.objects.filter(ico_reported_at__isnull=True)
        .exclude(reportable_to_ico=BreachReport.Reportable.NO)
        .exclude(status=BreachReport.Status.CLOSED)
    )
    # (stamp, due from, due until): became_aware_at in (until, from] means the deadline is this close.
    windows = [("ico_overdue_sent_at", timedelta(0), None)]
    for stamp, before in sorted(ICO_REMINDERS.items(), key=lambda item: item[1]):
        windows.append((stamp, before, windows[-1][1]))
    for stamp, before, until in windows:
        due = running.filter(**{f"{stamp}__isnull": True, "became_aware_at__lte": now - ICO_DEADLINE + before})
        if until is not None:
            due = due.filter(became_aware_at__gt=now - ICO_DEADLINE + until)
        earlier = [name for name, offset in ICO_REMINDERS.items() if offset > before]

        def handle(reports: list[BreachReport], stamp: str = stamp, earlier: list[str] = earlier) -> None:
            for name in earlier:  # the less urgent reminders are not sent after this one
                BreachReport.objects.filter(pk__in=[r.pk for r in reports], **{f"{name}__isnull": True}).update(
                    **{name: now}
                )
            notify_all(_ico_email(report, stamp, now, ceos) for report in reports)
            for report in reports:
                breach_timeline_add(report=report, by=None, what=_ICO_TIMELINE[stamp], at=now)

        counts[_count_key(stamp)] = claim_and_stamp(due.order_by("pk"), stamp=stamp, now=now, handle=handle)
    return counts


def _count_key(stamp: str) -> str:
    return stamp.removeprefix("ico_").removesuffix("_at")  # "reminded_24h", "overdue_sent"


_ICO_TIMELINE = {
    "ico_reminded_24h_at": "The CEO was reminded: 24 hours left to tell the ICO.",
    "ico_reminded_4h_at": "The CEO was reminded: 4 hours left to tell the ICO.",
    "ico_overdue_sent_at": "The CEO was told the deadline for telling the ICO has passed.",
}


def _ico_email(report: BreachReport, stamp: str, now: datetime, ceos: list[str]) -> Email:
    overdue = stamp == "ico_overdue_sent_at"
    hours = int(ICO_REMINDERS.get(stamp, timedelta(0)).total_seconds() // 3600)
    subject = (
        f"Breach report #{report.pk}: the deadline for telling the ICO has passed"
        if overdue
        else f"Breach report #{report.pk}: {hours} hours left to tell the ICO"
    )
    return Email(
        to=ceos,
        subject=subject,
        template="staff/email/ico_deadline.txt",
        context={
            "report": report,
            "overdue": overdue,
            "deadline": when(report.ico_deadline, year=True),
            "clock": report.ico_clock(now),
            "link": settings.FIG_SITE_URL + reverse("staff:breach_detail", args=[report.pk]),
        },
    )
