"""Background work for the staff app. Tasks are thin: they call a service or send a message."""

from __future__ import annotations

from celery import shared_task

from staff.sweeps import ico_deadline_sweep as _ico_deadline_sweep
from staff.sweeps import policy_reminder_sweep as _policy_reminder_sweep


@shared_task(name="staff.tasks.policy_reminder_sweep")
def policy_reminder_sweep() -> int:
    return _policy_reminder_sweep()


@shared_task(name="staff.tasks.ico_deadline_sweep")
def ico_deadline_sweep() -> dict[str, int]:
    return _ico_deadline_sweep()


@shared_task(name="staff.tasks.deliver_outbox")
def deliver_outbox(ids: list[int] | None = None) -> int:
    """Send the outbox: these ids after the commit that wrote them, or everything (beat, every minute)."""
    from staff.notifications import deliver_outbox as _deliver
    from staff.notifications import prune_outbox

    sent = _deliver(ids)
    if ids is None:
        prune_outbox()
    return sent
