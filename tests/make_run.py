"""`make run` started from a test: scripts/run_local.sh on a port of its own with a private var folder (never
the repository's var/), its console read back (the emails it prints too), and every process it started stopped.
"""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from django.conf import settings

from tests.processes import fresh_environment

ROOT = Path(settings.BASE_DIR)
# A line the worker prints goes through Celery's logging, so it may start with "[time: LEVEL/process] ".
_LOG_PREFIX = r"(?:\[[^\]\n]*\] )?"
# Django's console email backend ends each message with a line of 79 dashes.
_EMAIL_END = re.compile(rf"^{_LOG_PREFIX}-{{79}}$", re.M)
_EMAIL_START = re.compile(rf"^{_LOG_PREFIX}(?=Content-Type: )", re.M)


def make_run_environment(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """What a newcomer has: a folder and an address; no PostgreSQL, Redis, keys, FIG_SITE_URL or policy file."""
    return fresh_environment(
        FIG_VAR_DIR=str(tmp_path / "var"),
        FIG_RUN_ADDR=f"127.0.0.1:{port}",
        FIG_POLICY_FILE=str(tmp_path / "no-policy.txt"),
        **extra,
    )


def start_make_run(env: dict[str, str], log) -> subprocess.Popen:
    """run_local.sh in a process group of its own (so it can be stopped as Ctrl-C stops it), writing to `log`."""
    return subprocess.Popen(
        ["bash", "scripts/run_local.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_make_run(run: subprocess.Popen) -> bool:
    """Ctrl-C to the whole process group, as in the terminal; whatever is still running after 30 seconds is
    killed. Returns whether anything outlived the Ctrl-C."""
    try:
        os.killpg(run.pid, signal.SIGINT)
    except ProcessLookupError:  # everything had stopped already
        return False
    try:
        run.wait(timeout=60)
    finally:
        deadline = time.monotonic() + 30
        while group_alive(run.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stragglers = group_alive(run.pid)
        if stragglers:
            os.killpg(run.pid, signal.SIGKILL)
    return stragglers


def wait_for_output(run: subprocess.Popen, log_path: Path, pattern: str, timeout: float) -> re.Match:
    """The first match of `pattern` (multi-line) in the console, once it is there; fails with the console
    if the script stops or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        output = log_path.read_text(errors="replace")
        if match := re.search(pattern, output, re.M):
            return match
        assert run.poll() is None, f"make run stopped:\n{output}"
        assert time.monotonic() < deadline, f"no {pattern!r} in {timeout} seconds:\n{output}"
        time.sleep(0.5)


def console_emails(output: str) -> list[EmailMessage]:
    """The emails the console backend printed, as messages: each is its MIME text from its first header to
    the line of dashes, the first line without the worker's log prefix."""
    messages = []
    start = 0
    for end in _EMAIL_END.finditer(output):
        first = _EMAIL_START.search(output, start, end.start())
        if first:
            text = output[first.end() : end.start()]
            messages.append(email.message_from_string(text, policy=default_policy))
        start = end.end()
    return messages


def wait_for_email(run: subprocess.Popen, log_path: Path, subject: str, timeout: float) -> EmailMessage:
    """The one email with this subject, once the console shows all of it (the worker sends the outbox)."""
    deadline = time.monotonic() + timeout
    while True:
        output = log_path.read_text(errors="replace")
        found = [message for message in console_emails(output) if message["Subject"] == subject]
        if found:
            assert len(found) == 1, f"{len(found)} emails with the subject {subject!r}:\n{output}"
            return found[0]
        assert run.poll() is None, f"make run stopped:\n{output}"
        assert time.monotonic() < deadline, f"no email {subject!r} in {timeout} seconds:\n{output}"
        time.sleep(0.5)
