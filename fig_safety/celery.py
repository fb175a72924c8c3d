"""The Celery app. Redis is the broker in production; `make run` uses an embedded one.

Periodic work reads deadline columns from the database (no task per row), so
nothing is lost when the broker restarts or forgets its data.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fig_safety.settings")

app = Celery("fig_safety")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives here, in code, so every deployment runs the same sweeps.
app.conf.beat_schedule = {
    "outbox": {
        "task": "staff.tasks.deliver_outbox",
        "schedule": 60.0,
    },
    "posts": {
        # Every minute: a scheduled post goes out within a minute of its time.
        "task": "social.tasks.posts_sweep",
        "schedule": 60.0,
    },
    "inbox": {
        "task": "social.tasks.inbox_sweep",
        "schedule": crontab(minute="*/15"),
    },
    "vault": {
        "task": "photos.tasks.vault_sweep",
        "schedule": crontab(minute="*/15"),
    },
    "consent-requests": {
        "task": "consents.tasks.consent_sweep",
        "schedule": crontab(minute=5),
    },
    "retention": {
        # Hourly: erasures and retention periods are counted in days, so an hour late is on time.
        "task": "consents.tasks.retention_sweep",
        "schedule": crontab(minute=35),
    },
    "ico-deadlines": {
        # Every 15 minutes: the CEO's reminders of the ICO's 72 hours (24 and 4 hours before, and overdue).
        "task": "staff.tasks.ico_deadline_sweep",
        "schedule": crontab(minute="*/15"),
    },
    "policy-acknowledgement-reminders": {
        "task": "staff.tasks.policy_reminder_sweep",
        "schedule": crontab(minute=0, hour=9),
    },
}


@app.task(name="fig_safety.ping", ignore_result=False)
def ping(value: str = "pong") -> str:
    """A task with no side effects, used to prove a worker is consuming the queue."""
    return value
