"""Sending email from the app: rendered now, handed to a Celery worker once the transaction commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.template.loader import render_to_string


def notify(*, to: list[str], subject: str, template: str, context: dict[str, Any], separately: bool = False) -> None:
    """Email `to` after the surrounding transaction commits (at once outside one).

    The body is rendered here, so the task gets plain strings and never a model
    object. `separately` sends one message per recipient so nobody sees the
    others' addresses.
    """
    from staff.tasks import send_email

    body = render_to_string(template, context)
    recipients = [address for address in to if address]
    batches = [[address] for address in recipients] if separately else [recipients]
    for batch in batches:
        if batch:
            transaction.on_commit(lambda batch=batch: send_email.delay(subject=subject, body=body, to=batch))
