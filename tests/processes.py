"""For tests that start another process (manage.py, gunicorn, a worker, make run's script)."""

from __future__ import annotations

import os
import socket

# What this test run set for itself (tests/settings.py): a child process chooses its own.
_RUN_SETTINGS = ("DJANGO_", "FIG_", "EMAIL_", "DATABASE_", "REDIS_", "CELERY_")


def fresh_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any of the project's settings, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_RUN_SETTINGS)}
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
