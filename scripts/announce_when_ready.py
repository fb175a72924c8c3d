"""`make run`'s last word: once the site answers and the worker has run a task (so after the worker's
banner), say where the site is and how to sign in.

Usage: announce_when_ready.py ADDR PID...  (the address runserver serves, and the processes to watch)
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fig_safety.settings")

import django  # noqa: E402

django.setup()

from celery.exceptions import TimeoutError as ResultTimeout  # noqa: E402
from django.conf import settings  # noqa: E402

from fig_safety.celery import ping  # noqa: E402
from fig_safety.run_address import site_url_served_at  # noqa: E402
from staff.management.commands.seed_demo import DEMO_ACCOUNTS, DEMO_PASSWORD  # noqa: E402

# runserver and the worker each start in seconds; a slow first run (imports, a cold disk) gets longer.
PATIENCE_SECONDS = 300


def _alive(pids: list[int]) -> bool:
    try:
        for pid in pids:
            os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _site_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http:// address)
            return True
    except urllib.error.HTTPError:
        return True  # any answer means runserver is serving
    except (urllib.error.URLError, OSError):
        return False


def main(addr: str, pids: list[int]) -> int:
    served = site_url_served_at(addr) + "/"
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not _site_answers(served + "accounts/login/"):
        if not _alive(pids):
            return 1  # the script stops with it and says why above
        if time.monotonic() > deadline:
            print(f"The site at {served} has not answered in {PATIENCE_SECONDS} seconds.", file=sys.stderr)
            return 1
        time.sleep(0.5)
    # The worker prints its banner before it takes tasks, so a ping answered means the banner is above.
    result = ping.delay("ready")
    while True:
        try:
            result.get(timeout=1)
            break
        except ResultTimeout:
            if not _alive(pids):
                return 1
            if time.monotonic() > deadline:
                print("The worker has not answered yet: emails wait until it does.", file=sys.stderr)
                break
    email, _name, _roles, secret = DEMO_ACCOUNTS[0]
    print()
    if served != settings.FIG_SITE_URL + "/":
        print(f"Emailed links point at {settings.FIG_SITE_URL}/ (FIG_SITE_URL).")
    print(
        f"FiG Safety is running at {served} (sign in as {email} with the password {DEMO_PASSWORD} "
        f"and TOTP secret {secret}; emails are printed here; Ctrl-C stops everything)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], [int(pid) for pid in sys.argv[2:]]))
    except KeyboardInterrupt:  # Ctrl-C before the site was up: run_local.sh stops the rest
        sys.exit(130)
