"""Shared fixtures: personas, a clean cache, service-aware skipping and the browser."""

from __future__ import annotations

import re

import pytest
from celery._state import _set_task_join_will_block
from django.core.cache import cache

from tests import factories
from tests.services import REQUIRED, SERVICES

_SKIP_REASONS = {
    "postgres": ("PostgreSQL", SERVICES.postgres_url),
    "redis": ("Redis", SERVICES.redis_url),
    "browser": ("Chromium", SERVICES.chromium),
}


def pytest_report_header(config) -> list[str]:
    lines = [
        f"PostgreSQL: {'in use' if SERVICES.postgres_url else 'NOT reachable, using SQLite'}",
        f"Redis: {'in use' if SERVICES.redis_url else 'NOT reachable, using the embedded broker and a file cache'}",
        f"Chromium: {SERVICES.chromium or 'NOT found'}",
    ]
    if REQUIRED:
        lines.append("FIG_REQUIRE_SERVICES=1: every service is required")
    return lines


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        for marker, (name, available) in _SKIP_REASONS.items():
            if marker in item.keywords and not available:
                item.add_marker(pytest.mark.skip(reason=f"{name} not available: {SERVICES.problems.get(name, '')}"))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not SERVICES.problems:
        return
    skipped = terminalreporter.stats.get("skipped", [])
    terminalreporter.section("services not available", sep="!", yellow=True, bold=True)
    for name, why in SERVICES.problems.items():
        terminalreporter.write_line(f"{name}: {why}")
    terminalreporter.write_line(
        f"{len(skipped)} test(s) were SKIPPED because of this. Run with the services up (or .ci/run) to run them."
    )


def _clear_this_runs_cache() -> None:
    """Empty the cache, but only this run's keys: other runs may share the Redis database."""
    from django.conf import settings

    config = settings.CACHES["default"]
    if config["BACKEND"].endswith("RedisCache"):
        import redis

        client = redis.Redis.from_url(config["LOCATION"])
        keys = list(client.scan_iter(match=f"{config['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate limits and used TOTP codes live in the cache: each test starts with it empty."""
    _clear_this_runs_cache()
    yield
    _clear_this_runs_cache()


@pytest.fixture(autouse=True)
def _celery_joins_allowed():
    """Celery's "would this join block?" flag is one process-wide global that eager tasks set and restore.

    Eager tasks on two live-server threads at once can interleave the restores and leave it set, after which
    every later ``result.get()`` refuses ("Never call result.get() within a task"). No test runs inside a task.
    """
    _set_task_join_will_block(False)
    yield


# --- a Redis server of the test's own ----------------------------------------


@pytest.fixture
def private_redis():
    """A fresh Redis server for this test alone (tests/redis_server.py), so it may FLUSHALL; always stopped."""
    from tests.redis_server import private_redis_server

    if SERVICES.redis_server is None:  # FIG_REQUIRE_SERVICES=1 has already stopped the run
        pytest.skip(f"redis-server not available: {SERVICES.problems['redis-server']}")
    with private_redis_server() as server:
        yield server


@pytest.fixture
def celery_on_private_redis(settings, private_redis):
    """This process's cache, Celery broker and Celery results on `private_redis`, and tasks queued there
    rather than run eagerly (no worker takes them unless the test starts one). Yields the server."""
    from fig_safety.celery import app
    from tests.redis_server import celery_reconnects

    url = private_redis.url()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    # Celery reads these through its view of Django's settings, so the change reaches app.conf.
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with celery_reconnects(app):
        yield private_redis


@pytest.fixture
def policy(db):
    return factories.PolicyVersionFactory()


@pytest.fixture
def coordinator(db):
    return factories.staff_user("coordinator", email="coordinator@example.org")


@pytest.fixture
def ceo(db):
    return factories.staff_user("ceo", email="ceo@example.org")


@pytest.fixture
def member_of_staff(db):
    return factories.staff_user("staff", email="staff@example.org")


@pytest.fixture
def parent(db):
    return factories.parent_user(email="parent@example.org")


@pytest.fixture
def stranger(db):
    """A signed-in person with no role and no relationship to anything."""
    return factories.parent_user(email="stranger@example.org")


# --- browser -----------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=SERVICES.chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def desktop_page(browser_instance, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    context = browser_instance.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser_instance, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    context = browser_instance.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        base_url=live_server.url,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# Every element's id, and those used more than once: a label or an error link can point at the wrong box.
DUPLICATE_IDS_JS = """() => {
  const seen = new Map();
  for (const element of document.querySelectorAll("[id]")) seen.set(element.id, (seen.get(element.id) || 0) + 1);
  return [...seen].filter(([, count]) => count > 1).map(([id]) => id);
}"""


def assert_accessible(page) -> None:
    """axe-core finds no violation on the page as it stands, of any impact (a moderate one such as two
    landmarks with the same name is still a barrier), and no id is used twice."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = results.response["violations"]
    assert not bad, "axe-core violations on %s:\n%s" % (
        page.url,
        "\n".join(f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad),
    )
    duplicates = page.evaluate(DUPLICATE_IDS_JS)
    assert not duplicates, f"ids used more than once on {page.url}: {duplicates}"


def says(body: str, word: str) -> bool:
    """Whether a page shows `word` on its own, not inside a random token: a CSRF token may hold "Ava"."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", body) is not None
