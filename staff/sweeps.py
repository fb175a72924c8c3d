"""Periodic sweeps for the staff app: they read the database, claim rows and stamp them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from staff.models import PolicyReminder
from staff.notifications import notify
from staff.selectors import current_policy, staff_users

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
