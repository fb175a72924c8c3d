"""Background work for the staff app. Tasks are thin: they call a service or send a message."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.core.mail import EmailMessage

from staff.sweeps import policy_reminder_sweep as _policy_reminder_sweep


@shared_task(name="staff.tasks.policy_reminder_sweep")
def policy_reminder_sweep() -> int:
    return _policy_reminder_sweep()


@shared_task(
    name="staff.tasks.send_email",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def send_email(*, subject: str, body: str, to: list[str]) -> None:
    """Send one message. Retried with back-off while the mail server is unreachable."""
    EmailMessage(subject=subject, body=body, to=to).send()
