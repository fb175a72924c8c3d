"""Sending email from the app: rendered from a text template, sent after the transaction commits."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string


def notify(*, to: list[str], subject: str, template: str, context: dict[str, Any], separately: bool = False) -> None:
    """Email `to` once the surrounding transaction commits (immediately outside one).

    `separately` sends one message per recipient so staff never see each other's addresses.
    """
    body = render_to_string(template, context)
    recipients = [address for address in to if address]

    def send() -> None:
        batches = [[address] for address in recipients] if separately else [recipients]
        messages = [EmailMessage(subject=subject, body=body, to=batch) for batch in batches if batch]
        with get_connection() as connection:
            connection.send_messages(messages)

    if recipients:
        transaction.on_commit(send)
