"""Background work for the staff app. Tasks are thin: they call a service."""

from __future__ import annotations

from celery import shared_task

from staff.sweeps import policy_reminder_sweep as _policy_reminder_sweep


@shared_task(name="staff.tasks.policy_reminder_sweep")
def policy_reminder_sweep() -> int:
    return _policy_reminder_sweep()
