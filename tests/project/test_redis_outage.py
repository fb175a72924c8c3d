"""A Redis outage takes nothing down (issue 17, point 3).

Redis is the cache and the Celery broker. With it away, sessions go on (they are in the database), the
cache falls back to each process's memory (fig_safety/cache.py: rate limits still count), and a task that
cannot be queued is logged and left to its sweep (fig_safety/queueing.py). The last test stops a
redis-server of its own while staff and a parent use the site and Meta delivers a webhook, starts it again,
lets a real worker and the sweeps catch up, and checks nothing was lost or sent twice.
"""

from __future__ import annotations

import email
import logging
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consents.models import Carer, Child, ConsentRequest
from fig_safety import ratelimit
from fig_safety.cache import FailSafeRedisCache
from fig_safety.celery import app
from fig_safety.queueing import queue_after_commit
from social.inbox.sweeps import inbox_sweep
from social.models import DigestSent, Message, WebhookDelivery
from social.tasks import flag_message
from staff.models import OutboxEmail
from staff.notifications import deliver_outbox, notify
from tests import factories
from tests.consents import factories as cf
from tests.processes import free_port, fresh_environment
from tests.redis_server import PrivateRedis, _start, _stop, celery_reconnects
from tests.services import SERVICES
from tests.social import payloads as p

pytestmark = pytest.mark.redis

CACHE_LOG = "fig_safety.cache"
QUEUE_LOG = "fig_safety.queueing"


@pytest.fixture(autouse=True)
def _no_outage_remembered():
    """The fail-safe cache remembers an outage per process and per server: each test starts without one."""
    FailSafeRedisCache._down_until.clear()
    FailSafeRedisCache._warned_at.clear()
    yield
    FailSafeRedisCache._down_until.clear()
    FailSafeRedisCache._warned_at.clear()


def _nothing_listens() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """An address that takes connections and never answers: a Redis that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def _cache_at(location: str) -> FailSafeRedisCache:
    """The production cache (settings.CACHES, with its timeouts), on another server."""
    config = django_settings.CACHES["default"]
    assert config["BACKEND"] == "fig_safety.cache.FailSafeRedisCache"
    return FailSafeRedisCache(location, {**config, "KEY_PREFIX": "outage-test"})


def _site_cache_on(settings, location: str) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": location}}


@contextmanager
def _broker_at(settings, location: str) -> Iterator[None]:
    """This process's Celery broker at `location`, tasks sent there rather than run eagerly."""
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = location
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with celery_reconnects(app):
        yield


def _logged(caplog, logger: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == logger]


# --- the cache ------------------------------------------------------------------------------------


def test_with_redis_away_the_cache_keeps_working_in_memory_and_warns_once_without_values(caplog):
    store = _cache_at(_nothing_listens())
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        store.set("greeting", "a-secret-value")
        assert store.get("greeting") == "a-secret-value"
        assert store.add("count", 1) and not store.add("count", 5)
        assert store.incr("count") == 2
        assert store.get_many(["greeting", "count", "nothing"]) == {"greeting": "a-secret-value", "count": 2}
        store.set_many({"a": 1, "b": 2})
        store.delete_many(["a"])
        assert not store.has_key("a") and store.has_key("b")
        assert store.delete("greeting") and store.get("greeting", "gone") == "gone"
        with pytest.raises(ValueError):
            store.incr("never-set")  # as Redis says, so callers that add then incr still work
    [warning] = _logged(caplog, CACHE_LOG)  # once, not once a call
    assert "Redis cache unreachable" in warning and "own memory" in warning
    assert "secret" not in warning and "greeting" not in warning


def test_a_redis_that_hangs_costs_one_short_wait_then_nothing(silent_redis):
    store = _cache_at(silent_redis)
    started = time.monotonic()
    assert store.get("anything") is None
    first = time.monotonic() - started
    assert first < 2 * django_settings.REDIS_TIMEOUT + 0.5  # not redis-py's five seconds
    started = time.monotonic()
    for n in range(20):
        store.set(f"key{n}", n)
    assert time.monotonic() - started < 0.5  # Redis is left alone for a few seconds after a failure
    assert store.get("key7") == 7


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RestartableRedis]:
    if SERVICES.redis_server is None:  # FIG_REQUIRE_SERVICES=1 has already stopped the run
        pytest.skip(f"redis-server not available: {SERVICES.problems['redis-server']}")
    server = RestartableRedis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.close()


class RestartableRedis:
    """A redis-server of the test's own (tests/redis_server.py) that the test stops and starts again on the
    same port. Stopping saves what it holds, so it comes back with the tasks queued before the outage, as a
    Redis with persistence does: a worker then finds those and the sweeps' work too."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        for _ in range(5):  # the free port can be taken between choosing it and the server binding it
            started = _start(SERVICES.redis_server, folder, free_port())
            if started is not None:
                break
        else:
            raise RuntimeError("redis-server did not start")
        self.process, self.server = started

    def url(self) -> str:
        return self.server.url()

    @property
    def client(self):
        return self.server.client()

    def stop(self) -> None:
        self.client.shutdown(save=True)
        self.process.wait(timeout=10)

    def start(self) -> None:
        started = _start(SERVICES.redis_server, self.folder, self.server.port)
        assert started is not None, "redis-server did not start again on its port"
        self.process, self.server = started[0], PrivateRedis(port=self.server.port, log=started[1].log)

    def close(self) -> None:
        _stop(self.process)


def test_the_cache_goes_back_to_redis_when_it_is_back(redis_server, caplog, monkeypatch):
    monkeypatch.setattr(FailSafeRedisCache, "retry_after", 0.0)
    store = _cache_at(redis_server.url())
    store.set("kept", "before")
    assert redis_server.client.get(store.make_key("kept")) is not None

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        store.set("kept", "during")
        assert store.get("kept") == "during"
        redis_server.start()
        assert store.get("kept") == "before"  # Redis's own copy again
    assert _logged(caplog, CACHE_LOG)[-1] == "Redis cache reachable again."


# --- rate limits ----------------------------------------------------------------------------------


def test_a_rate_limit_still_refuses_with_redis_away(settings, caplog):
    _site_cache_on(settings, _nothing_listens())
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        assert [ratelimit.allow("outage-probe", "3/m") for _ in range(5)] == [True, True, True, False, False]
    assert any("Redis cache unreachable" in line for line in _logged(caplog, CACHE_LOG))


@pytest.mark.django_db
def test_failed_sign_ins_are_still_limited_with_redis_away(client, settings, member_of_staff):
    _site_cache_on(settings, _nothing_listens())
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": member_of_staff.email, "password": "wrong password"})
        assert response.status_code == 200
    response = client.post(reverse("account_login"), {"login": member_of_staff.email, "password": factories.PASSWORD})
    assert b"Too many failed login attempts" in response.content
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_the_live_policy_check_is_still_counted_with_redis_away(client, settings):
    """Counted in this process's memory rather than refused for everyone (social/posts/probing.py)."""
    settings.FIG_LIVE_CHECK_RATES = "2/m"
    client.force_login(factories.staff_user("staff", email="outage-writer@example.org"))
    _site_cache_on(settings, _nothing_listens())
    answers = [client.post(reverse("social:live_check"), {"text": "Hello"}).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


# --- queueing tasks -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # no transaction open: queued at once
def test_a_task_that_cannot_be_queued_is_logged_and_the_request_goes_on(settings, caplog):
    with _broker_at(settings, _nothing_listens()), caplog.at_level(logging.WARNING, logger=QUEUE_LOG):
        queue_after_commit(flag_message, 1)  # outside a transaction: at once
    [warning] = _logged(caplog, QUEUE_LOG)
    assert warning.startswith("Could not queue social.tasks.flag_message") and "sweep" in warning


@pytest.mark.django_db(transaction=True)
def test_an_email_written_with_the_broker_away_is_sent_once_by_the_outbox_sweep(settings, silent_redis, caplog):
    """The broker hangs rather than refusing: the commit still comes back within a couple of seconds."""
    with _broker_at(settings, silent_redis), caplog.at_level(logging.WARNING, logger=QUEUE_LOG):
        started = time.monotonic()
        with transaction.atomic():
            notify(
                to=["someone@example.org"], subject="A notice", template="staff/email/policy_reminder.txt", context={}
            )
        assert time.monotonic() - started < 2 + 2 * django_settings.REDIS_TIMEOUT
    assert any(line.startswith("Could not queue staff.tasks.deliver_outbox") for line in _logged(caplog, QUEUE_LOG))
    assert OutboxEmail.objects.get().sent_at is None and mail.outbox == []
    assert deliver_outbox() == 1  # beat's every-minute sweep
    assert deliver_outbox() == 0
    assert [m.subject for m in mail.outbox] == ["A notice"]


# --- the whole site through an outage -------------------------------------------------------------


def _database_url() -> str:
    """The URL of the database this test is using (the test database, not fig_safety)."""
    return urlunsplit(urlsplit(SERVICES.postgres_url)._replace(path="/" + django_settings.DATABASES["default"]["NAME"]))


@contextmanager
def _worker(tmp_path: Path, *, redis_url: str) -> Iterator[Path]:
    """A real worker on `redis_url` and this test's database; yields the folder its emails land in."""
    mailbox = tmp_path / "mail"
    log = tmp_path / "worker.log"
    env = fresh_environment(
        DJANGO_SETTINGS_MODULE="fig_safety.settings",
        DJANGO_DEBUG="1",
        FIG_CELERY_EAGER="0",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        EMAIL_URL=f"filemail://{mailbox}",
        FIG_VAR_DIR=str(tmp_path / "var"),
    )
    command = [sys.executable, "-m", "celery", "-A", "fig_safety", "worker", "--loglevel=INFO", "--pool=solo"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stdout=output, stderr=output)
    try:
        yield mailbox
    except BaseException as exc:
        exc.add_note("--- worker output ---\n" + log.read_text()[-4000:])
        raise
    finally:
        _stop(process)


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.25)


def _mailbox(folder: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes())
        found.append((message["To"], message["Subject"]))
    return found


class Visits:
    """Every page asked for through the outage, each checked for the status expected and timed."""

    def __init__(self) -> None:
        self.slowest = 0.0

    def get(self, client: Client, url: str, expected: int = 200):
        return self._timed(client, "get", url, expected)

    def post(self, client: Client, url: str, data, expected: int = 302, **extra):
        return self._timed(client, "post", url, expected, data, **extra)

    def _timed(self, client: Client, method: str, url: str, expected: int, *args, **extra):
        started = time.monotonic()
        response = getattr(client, method)(url, *args, **extra)
        self.slowest = max(self.slowest, time.monotonic() - started)
        assert response.status_code == expected, (url, response.status_code, response.content[:2000])
        return response


def _staff_sign_in(visits: Visits, client: Client, user) -> None:
    response = visits.post(client, reverse("account_login"), {"login": user.email, "password": factories.PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    visits.post(client, reverse("mfa_authenticate"), {"code": factories.totp_code(user.totp_secret)})
    assert int(client.session[SESSION_KEY]) == user.pk


def _parent_sign_in(visits: Visits, client: Client, user) -> None:
    visits.post(client, reverse("account_request_login_code"), {"email": user.email})
    [message] = [m for m in mail.outbox if m.to == [user.email]]  # sent at once, not through the outbox
    code = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", message.body, re.MULTILINE).group(1)
    visits.post(client, reverse("account_confirm_login_code"), {"code": code})
    assert int(client.session[SESSION_KEY]) == user.pk


def _webhook(visits: Visits, client: Client, text: str, sender: str) -> Message:
    raw = p.body(p.messenger_message(text, sender_id=sender, at=timezone.now()))
    visits.post(
        client, p.WEBHOOK_URL, raw, expected=200, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=p.sign(raw)
    )
    return Message.objects.get(conversation__thread=f"dm:{sender}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_redis_outage_takes_nothing_down_and_loses_or_repeats_nothing(
    tmp_path, settings, redis_server, caplog, monkeypatch
):
    monkeypatch.setattr(FailSafeRedisCache, "retry_after", 0.2)  # back on Redis soon after it is
    settings.FIG_META_APP_SECRET = p.APP_SECRET
    cf.publish_version()
    alex = factories.staff_user("coordinator", "social_admin", email="alex@example.org")  # signed in before
    sam = factories.staff_user("coordinator", email="sam@example.org")  # signs in during the outage
    parent = factories.parent_user(email="maya@example.org")
    family, child, [first_carer, maya] = cf.family_with_child(coordinator=alex, carers=2)
    cf.assign(sam, family)
    Child.objects.filter(pk=child.pk).update(first_name="Tyler", last_name="Hughes")
    Carer.objects.filter(pk=maya.pk).update(email=parent.email)
    today = timezone.localdate()
    DigestSent.objects.bulk_create([DigestSent(day=today), DigestSent(day=today + timedelta(days=1))])  # no digest
    family_page = reverse("consents:family_detail", args=[family.reference])
    request_url = reverse("consents:request_send", args=[family.reference, child.pk])

    _site_cache_on(settings, redis_server.url())
    visits, meta = Visits(), Client()
    alex_client, alex_phone, sam_client, maya_client = Client(), Client(), Client(), Client()
    with _broker_at(settings, redis_server.url()), caplog.at_level(logging.WARNING):
        # Before: Alex signs in and asks the first carer for consent; Meta sends a message naming Tyler.
        # Both leave a task waiting in Redis, and no worker is running yet.
        _staff_sign_in(visits, alex_client, alex)
        visits.get(alex_client, reverse("social:inbox"))
        alex_phone.force_login(alex)  # Alex on a second device too
        visits.get(alex_phone, reverse("home"))
        visits.post(alex_client, request_url, {"carer": first_carer.pk})
        before = _webhook(visits, meta, "Is that Tyler Hughes in your photo?", sender="2400000000000101")
        assert redis_server.client.llen("celery") == 2  # the first email's delivery, the message's check

        redis_server.stop()

        # During: Alex carries on, Meta sends another message, Maya and Sam sign in, Sam sends a request.
        for url in (reverse("home"), reverse("social:inbox"), reverse("social:message", args=[before.conversation_id])):
            visits.get(alex_client, url)
        visits.get(alex_client, reverse("social:dashboard"))
        phone_session = alex_phone.cookies[settings.SESSION_COOKIE_NAME].value
        visits.post(alex_phone, reverse("account_logout"), {})  # signs out on the phone
        during = _webhook(visits, meta, "Tyler Hughes is in the newsletter", sender="2400000000000102")
        _parent_sign_in(visits, maya_client, parent)
        visits.get(maya_client, reverse("consents:my_children"))
        _staff_sign_in(visits, sam_client, sam)
        visits.get(sam_client, family_page)
        visits.post(sam_client, request_url, {"carer": maya.pk})
        assert visits.slowest < 2, visits.slowest
        assert any(line.startswith("Could not queue") for line in _logged(caplog, QUEUE_LOG))
        assert [line for line in _logged(caplog, CACHE_LOG) if "unreachable" in line]

        redis_server.start()
        assert redis_server.client.llen("celery") == 2  # it came back with the tasks queued before
        codes = len(mail.outbox)

        # After: a worker takes what waited in Redis (the first request's email; the check of the first
        # message, which emails Alex and Sam)...
        with _worker(tmp_path, redis_url=redis_server.url()) as mailbox:
            _wait_for(lambda: len(_mailbox(mailbox)) == 3, "the worker to send the first three emails")
            assert Message.objects.get(pk=before.pk).flagged_at is not None
            # ...and beat's sweeps catch up on what never got there: the second message is checked, and the
            # outbox sweep sends Sam's request and races the worker for the second message's notices.
            assert inbox_sweep(timezone.now() + timedelta(minutes=5))["flags_recovered"] == 1
            _wait_for(
                lambda: deliver_outbox() == 0 and not OutboxEmail.objects.filter(sent_at=None).exists(), "all sent"
            )
            # Run again, they find nothing more to do.
            assert inbox_sweep(timezone.now() + timedelta(minutes=10))["flags_recovered"] == 0
            assert deliver_outbox() == 0
            sent = _mailbox(mailbox) + [(", ".join(m.to), m.subject) for m in mail.outbox[codes:]]
            # Sessions made before and during the outage still work; the one ended during it stays ended.
            for client, url in (
                (alex_client, reverse("social:inbox")),
                (sam_client, family_page),
                (maya_client, reverse("consents:my_children")),
            ):
                visits.get(client, url)
            alex_phone.cookies[settings.SESSION_COOKIE_NAME] = phone_session
            assert visits.get(alex_phone, reverse("social:inbox"), 302)["Location"].startswith(reverse("account_login"))
        cache.set("after", "in Redis")
        assert redis_server.client.get(cache.make_key("after")) is not None

    # Both messages stored once, in the request (none left for the ingest task), and checked once; each email
    # in the outbox sent exactly once.
    assert Message.objects.count() == 2 and {before.pk, during.pk} == set(Message.objects.values_list("pk", flat=True))
    assert not WebhookDelivery.objects.exists()
    assert all(m.flagged_at is not None and m.urgent for m in Message.objects.all())
    assert ConsentRequest.objects.count() == 2
    # A consent request to each carer; an urgent notice about each message to Alex and to Sam. Every row is
    # stamped sent (only after the mail server took it), and there were as many sends as rows.
    rows = OutboxEmail.objects.all()
    assert sorted(row.to[0] for row in rows) == sorted([first_carer.email, parent.email, *[alex.email, sam.email] * 2])
    assert all(row.sent_at is not None for row in rows)
    assert Counter(sent) == Counter((", ".join(row.to), row.subject) for row in rows)
