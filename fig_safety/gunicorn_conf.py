"""gunicorn settings for the Dockerfile and docker-compose.yml: `gunicorn -c python:fig_safety.gunicorn_conf`.

The access log goes through ``redact``, so the tokens in consent and password
links never reach it, whether in the request line or in the Referer.
"""

import os

from gunicorn.glogging import Logger

from fig_safety.logging import RedactSecretsFilter, redact

bind = "0.0.0.0:8000"  # inside the container; compose publishes it
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
worker_tmp_dir = "/dev/shm"  # noqa: S108 - gunicorn's heartbeat files, not data
accesslog = "-"

# Request headers an access log must never print whole, whatever the log format.
_SECRET_HEADERS = ("{cookie}i", "{authorization}i", "{x-hub-signature-256}i")


class RedactingLogger(Logger):
    """gunicorn's logger: every text field of each access line redacted, and the error log filtered
    too ("Error handling request /consents/sign/<token>/")."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.addFilter(RedactSecretsFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = redact(value)
        for name in _SECRET_HEADERS:
            if name in atoms:
                atoms[name] = "[redacted]"
        return atoms


logger_class = RedactingLogger
