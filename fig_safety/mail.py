"""Email backend for `EMAIL_URL=filemail:///folder`: one .eml file per message.

Django's own file backend appends every message of a connection to one file,
which makes "find the email that was just sent" awkward for people and tests.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class FilePerMessageBackend(BaseEmailBackend):
    def __init__(self, *args, file_path: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            target = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            target.write_bytes(message.message().as_bytes(linesep="\n"))
            sent += 1
        return sent
