"""Background work for the staff app. Tasks are thin: they call a service or send a message."""

from __future__ import annotations

from celery import shared_task

from staff.sweeps import policy_reminder_sweep as _policy_reminder_sweep


@shared_task(name="staff.tasks.policy_reminder_sweep")
def policy_reminder_sweep() -> int:
    return _policy_reminder_sweep()


@shared_task(name="staff.tasks.deliver_outbox")
def deliver_outbox(ids: list[int] | None = None) -> int:
    """Send the outbox: these ids after the commit that wrote them, or everything (beat, every minute)."""
    from staff.notifications import deliver_outbox as _deliver
    from staff.notifications import prune_outbox

    sent = _deliver(ids)
    if ids is None:
        prune_outbox()
    return sent
