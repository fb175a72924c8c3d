"""`make run`'s script: migrates, seeds the demo, serves the site with a worker and beat on the embedded
broker, and one Ctrl-C (SIGINT to the whole process group) stops all of it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from tests.processes import free_port, fresh_environment

ROOT = Path(settings.BASE_DIR)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_serves_the_demo_and_one_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    # Nothing but a folder and an address: no PostgreSQL, no Redis, no keys.
    env = fresh_environment(FIG_VAR_DIR=str(tmp_path / "var"), FIG_RUN_ADDR=f"127.0.0.1:{port}")
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        ["bash", "scripts/run_local.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:  # noqa: S310
                    page = response.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
                time.sleep(0.5)
        assert "Sign in" in page
        output = (tmp_path / "run.log").read_text()
        assert f"FiG Safety is at http://127.0.0.1:{port}" in output
        assert "coordinator@example.org" in output  # seed_demo printed the demo accounts
        assert (tmp_path / "var" / "dev-vault-key").stat().st_mode & 0o077 == 0  # a private key
        # The worker came up on the embedded broker (kombu's filesystem transport under the var folder).
        deadline = time.monotonic() + 60
        while "ready." not in (tmp_path / "run.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
    finally:
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            run.wait(timeout=60)
        finally:
            deadline = time.monotonic() + 30
            while _group_alive(run.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            stragglers = _group_alive(run.pid)
            if stragglers:
                os.killpg(run.pid, signal.SIGKILL)
            log.close()
    assert not stragglers, "a process of make run outlived Ctrl-C"
