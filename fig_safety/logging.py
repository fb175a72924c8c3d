"""A logging filter that keeps passwords, codes and tokens out of every log line."""

from __future__ import annotations

import logging
import re

# key=value or "key": "value" pairs whose key names a secret.
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (["']?(?:password\d?|passwd|secret|token|code|otp|key|signature|authorization|cookie)["']?
     \s*[:=]\s*)
    (["']?)[^\s"'&,;}]+(["']?)
    """
)


def redact(text: str) -> str:
    return _SECRET_PAIR.sub(r"\1\2[redacted]\3", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
