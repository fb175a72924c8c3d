"""Keeping passwords, codes and tokens out of every log line.

Two kinds of secret reach a log: ``key=value`` pairs (a password in a form
dump, a token in a query string) and single-use tokens carried in a URL path,
which every access log writes with the request line and the Referer header.
``redact`` removes both. ``RedactSecretsFilter`` applies it to Django's loggers
(runserver's access log included); ``fig_safety.gunicorn_conf`` applies it to gunicorn's
access log. ``ClientErrorsInOneLineFilter`` keeps an expected 403 or 404 to one line.
"""

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

# The path segment after one of these is a single-use token: allauth's password
# (invitation) and email links, and the consent links sent to carers (to sign, and
# to review or withdraw), and the single-use address a platform fetches a post's photo
# from (publish/image). tests/project/test_access_logs.py checks every URL with a
# token in it is covered.
_TOKEN_PATH = re.compile(r"(/(?:key|confirm-email|sign|review|image)/)[^/\s?#\"']+")


def redact(text: str) -> str:
    return _TOKEN_PATH.sub(r"\1[redacted]", _SECRET_PAIR.sub(r"\1\2[redacted]\3", text))


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class ClientErrorsInOneLineFilter(logging.Filter):
    """An outsider's 404 or a read-only user's 403 is the site working as designed: Django logs it with the
    exception's traceback, which buries the real errors. A response under 500 keeps its one line; a 500
    keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and status < 500:
            record.exc_info = record.exc_text = None
        return True
