"""`make run`'s script: migrates, seeds the demo, serves the site with a worker and beat on the embedded
broker, and one Ctrl-C (SIGINT to the whole process group) stops all of it.

Issue 18.1: emailed links point at the address it serves, a demo policy stands in for a missing policy
file, the last line printed says where the site is, and no digest greets the start."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from fig_safety.run_address import site_url_served_at
from fig_safety.times import LONDON
from social.inbox import sweeps
from social.models import DigestSent
from staff.management.commands.seed_demo import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_POLICY_TITLE
from staff.models import OutboxEmail, PolicyVersion, User
from tests.make_run import ROOT, make_run_environment, start_make_run, stop_make_run
from tests.processes import free_port, fresh_environment


def test_make_run_serves_the_demo_and_one_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    # Nothing but a folder and an address: no PostgreSQL, no Redis, no keys, no FIG_SITE_URL, no policy file.
    env = make_run_environment(tmp_path, port)
    log = (tmp_path / "run.log").open("w")
    run = start_make_run(env, log)
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
        assert (tmp_path / "var" / "dev-vault-key").stat().st_mode & 0o077 == 0  # a private key
        # The worker came up on the embedded broker (kombu's filesystem transport under the var folder), and
        # then, last, the script said where the site is.
        running = f"FiG Safety is running at http://127.0.0.1:{port}/ (sign in as "
        deadline = time.monotonic() + 120
        while running not in (output := (tmp_path / "run.log").read_text()):
            assert run.poll() is None and time.monotonic() < deadline, output
            time.sleep(0.5)
        assert "coordinator@example.org" in output  # seed_demo printed the demo accounts
        assert f"{DEMO_POLICY_TITLE} version 1 is current" in output  # no policy file: the demo text
        assert output.index("[tasks]") < output.index(" ready.") < output.index(running)  # after the banner
        last = output[output.index(running) :].splitlines()[0]
        assert f"{DEMO_ACCOUNTS[0][0]} with the password {DEMO_PASSWORD}" in last
        # The consent request seed_demo emailed to DEMO-3's carer: its link is on the address served, and opens
        # the form there.
        deadline = time.monotonic() + 60
        while not (links := re.findall(r"^(http://\S+/consents/sign/\S+/)$", output, re.M)):
            assert time.monotonic() < deadline, output
            time.sleep(0.5)
            output = (tmp_path / "run.log").read_text()
        [link] = links
        assert link.startswith(f"http://127.0.0.1:{port}/consents/sign/")
        with urllib.request.urlopen(link, timeout=10) as response:  # noqa: S310
            assert "Dan" in response.read().decode()
    finally:
        try:
            stragglers = stop_make_run(run)  # SIGINT to the group: what Ctrl-C in the terminal does
        finally:
            log.close()
    assert not stragglers, "a process of make run outlived Ctrl-C"


# --- the pieces, quickly ------------------------------------------------------------------------------------


def _site_url(**env: str) -> str:
    """FIG_SITE_URL as a process started with this environment (as `make run` starts them) reads it."""
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.FIG_SITE_URL)"],
        cwd=ROOT,
        env=fresh_environment(DJANGO_SETTINGS_MODULE="fig_safety.settings", DJANGO_DEBUG="1", **env),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_emailed_links_point_at_the_address_make_run_serves(tmp_path):
    port = free_port()
    assert _site_url(FIG_VAR_DIR=str(tmp_path), FIG_RUN_ADDR=f"127.0.0.1:{port}") == f"http://127.0.0.1:{port}"
    assert _site_url(FIG_VAR_DIR=str(tmp_path)) == "http://127.0.0.1:8000"  # runserver's own default
    # An address set on purpose (a tunnel, a name on the network) wins.
    explicit = {"FIG_RUN_ADDR": f"127.0.0.1:{port}", "FIG_SITE_URL": "https://fig.example.org/"}
    assert _site_url(FIG_VAR_DIR=str(tmp_path), **explicit) == "https://fig.example.org"


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("127.0.0.1:8101", "http://127.0.0.1:8101"),
        ("localhost:8101", "http://localhost:8101"),
        ("8101", "http://127.0.0.1:8101"),  # runserver takes a bare port
        ("0.0.0.0:8101", "http://127.0.0.1:8101"),  # all interfaces: this machine reaches it on 127.0.0.1
        ("0:8101", "http://127.0.0.1:8101"),
        ("[::1]:8101", "http://[::1]:8101"),
    ],
)
def test_it_turns_runservers_address_into_a_url(addr, url):
    assert site_url_served_at(addr) == url


@pytest.mark.parametrize("addr", ["localhost", "127.0.0.1:", "127.0.0.1:80x", "127.0.0.1:\u00b2"])
def test_it_refuses_an_address_without_a_port(addr):
    with pytest.raises(ImproperlyConfigured, match="FIG_RUN_ADDR"):
        site_url_served_at(addr)


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_without_a_policy_file_make_run_publishes_a_demo_policy_staff_must_acknowledge(client, tmp_path, settings):
    settings.FIG_POLICY_FILE = str(tmp_path / "not-there.txt")
    output = _seed("--demo-policy")
    version = PolicyVersion.objects.get()
    assert version.title == DEMO_POLICY_TITLE
    assert version.text.startswith("This is a demonstration policy for trying FiG Safety.")
    assert f"{DEMO_POLICY_TITLE} version 1 is current" in output and "publish_policy FILE" in output

    client.force_login(User.objects.get(email=DEMO_ACCOUNTS[0][0]))
    assert client.get(reverse("home"))["Location"] == reverse("staff:policy")
    page = client.get(reverse("staff:policy")).content.decode()
    assert "This is a demonstration policy for trying FiG Safety." in page

    _seed("--demo-policy")  # every start of make run: nothing new
    assert PolicyVersion.objects.count() == 1
    # FiG's text arrives: it becomes the current version, and later starts leave it so.
    (tmp_path / "not-there.txt").write_text("FiG eSafety policy\n", encoding="utf-8")
    _seed("--demo-policy")
    (tmp_path / "not-there.txt").unlink()
    _seed("--demo-policy")
    assert list(PolicyVersion.objects.values_list("number", "title")) == [(2, "eSafety policy"), (1, DEMO_POLICY_TITLE)]


@pytest.mark.django_db
def test_the_demo_policy_never_replaces_a_published_one(tmp_path, settings):
    settings.FIG_POLICY_FILE = str(tmp_path / "not-there.txt")
    (tmp_path / "fig.txt").write_text("FiG eSafety policy\n", encoding="utf-8")
    call_command("publish_policy", str(tmp_path / "fig.txt"), stdout=StringIO())
    output = _seed("--demo-policy")
    assert list(PolicyVersion.objects.values_list("title", flat=True)) == ["eSafety policy"]
    assert "eSafety policy version 1 is current" in output


def _london(day: int, hour: int, minute: int = 0) -> datetime:
    today = timezone.localdate(timezone=LONDON)
    return datetime(today.year, today.month, today.day, hour, minute, tzinfo=LONDON) + timedelta(days=day)


def _digests() -> list[str]:
    return list(OutboxEmail.objects.filter(subject__startswith="Social media inbox").values_list("subject", flat=True))


@pytest.mark.django_db
def test_a_demo_started_after_eight_sends_no_digest_until_the_next_morning(monkeypatch, tmp_path, settings):
    settings.FIG_POLICY_FILE = str(tmp_path / "not-there.txt")
    started = _london(0, 11)
    monkeypatch.setattr(timezone, "now", lambda: started)
    _seed("--demo-policy")  # make run at 11:00
    monkeypatch.undo()
    # Beat's first inbox sweeps, as a stale schedule runs them at once and then every 15 minutes.
    for hour, minute in [(11, 0), (11, 15), (23, 45)]:
        with TestCase.captureOnCommitCallbacks(execute=True):
            assert sweeps.inbox_sweep(_london(0, hour, minute))["digest"] == 0
    assert _digests() == []
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert sweeps.inbox_sweep(_london(1, 8))["digest"] == 1  # its time: the next morning
    assert len(_digests()) == 1


@pytest.mark.django_db
def test_a_demo_started_before_eight_gets_that_mornings_digest(monkeypatch, tmp_path, settings):
    settings.FIG_POLICY_FILE = str(tmp_path / "not-there.txt")
    started = _london(0, 6, 30)
    monkeypatch.setattr(timezone, "now", lambda: started)
    _seed("--demo-policy")
    monkeypatch.undo()
    assert not DigestSent.objects.exists()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert sweeps.inbox_sweep(_london(0, 8))["digest"] == 1
