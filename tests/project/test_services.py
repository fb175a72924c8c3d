"""`make test` uses PostgreSQL, Redis and Chromium when it finds them, says clearly what it skipped
when it does not, and refuses to run without them when FIG_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import fresh_environment
from tests.services import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, probe

ROOT = Path(settings.BASE_DIR)
SAMPLE = "tests/project/sample_needs_services.py"


def _pytest_without_services(**extra: str) -> subprocess.CompletedProcess:
    env = fresh_environment(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/fig_safety",
        REDIS_URL="redis://127.0.0.1:1/0",
        FIG_CHROMIUM="/nonexistent/chromium",
        FIG_REDIS_SERVER="/nonexistent/redis-server",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", SAMPLE, "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_services_it_skips_their_tests_and_says_so():
    result = _pytest_without_services()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "PostgreSQL: NOT reachable, using SQLite" in output
    assert "services not available" in output
    assert "4 test(s) were SKIPPED because of this" in output
    assert "1 passed, 4 skipped" in output
    assert "redis-server: /nonexistent/redis-server not found (apt-get install redis-server)" in output
    for name in (
        "PostgreSQL not available",
        "Redis not available",
        "Chromium not available",
        "redis-server not available",
    ):
        assert name in output


def test_with_fig_require_services_a_missing_service_is_an_error():
    result = _pytest_without_services(FIG_REQUIRE_SERVICES="1")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "FIG_REQUIRE_SERVICES=1 but these services are not reachable" in output
    assert "passed" not in output


@pytest.mark.postgres
@pytest.mark.redis
def test_without_urls_it_looks_on_the_usual_local_ports(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    found = probe()
    assert DEFAULT_DATABASE_URL == "postgres://postgres@127.0.0.1:5432/fig_safety"
    assert DEFAULT_REDIS_URL.startswith("redis://127.0.0.1:6379/")
    assert (found.postgres_url, found.redis_url) == (DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL)
    monkeypatch.delenv("FIG_REDIS_SERVER", raising=False)
    assert probe().redis_server is not None  # /usr/bin/redis-server, found without being named
