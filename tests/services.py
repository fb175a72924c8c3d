"""Which real services this test run has: PostgreSQL, Redis and Chromium.

Also the redis-server program, for the tests that start a Redis of their own
(to FLUSHALL it). Probed once, before Django's settings load, so the settings can point at what
is there. Missing services mean their tests are skipped with a clear notice,
unless FIG_REQUIRE_SERVICES=1 (CI), where a missing service is an error.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fig_safety"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
CHROMIUM = "/usr/bin/chromium"
REDIS_SERVER = "/usr/bin/redis-server"


@dataclass
class Services:
    postgres_url: str | None = None
    redis_url: str | None = None
    chromium: str | None = None
    redis_server: str | None = None  # the program, for tests that start a Redis of their own
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return sorted(self.problems)


def _probe_postgres(url: str) -> str | None:
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    try:
        connection = psycopg2.connect(
            dbname="postgres",
            user=config["USER"] or "postgres",
            password=config["PASSWORD"] or None,
            host=config["HOST"] or "127.0.0.1",
            port=config["PORT"] or 5432,
            connect_timeout=3,
        )
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    connection.close()
    return None


def _probe_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc) or exc.__class__.__name__
    return None


def probe() -> Services:
    found = Services()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if database_url.startswith(("postgres://", "postgresql://")):
        problem = _probe_postgres(database_url)
        if problem is None:
            found.postgres_url = database_url
        else:
            found.problems["PostgreSQL"] = f"{database_url}: {problem}"
    else:
        found.problems["PostgreSQL"] = f"DATABASE_URL is not PostgreSQL ({database_url.split(':')[0]})"
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    problem = _probe_redis(redis_url)
    if problem is None:
        found.redis_url = redis_url
    else:
        found.problems["Redis"] = f"{redis_url}: {problem}"
    chromium = os.environ.get("FIG_CHROMIUM") or CHROMIUM
    if shutil.which(chromium) or os.path.exists(chromium):
        found.chromium = chromium
    else:
        found.problems["Chromium"] = f"{chromium} not found (apt-get install chromium)"
    redis_server = os.environ.get("FIG_REDIS_SERVER") or REDIS_SERVER
    found.redis_server = shutil.which(redis_server) or (redis_server if os.access(redis_server, os.X_OK) else None)
    if found.redis_server is None:
        found.problems["redis-server"] = f"{redis_server} not found (apt-get install redis-server)"
    return found


SERVICES = probe()
REQUIRED = os.environ.get("FIG_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}
if REQUIRED and SERVICES.problems:
    details = "; ".join(f"{name}: {why}" for name, why in SERVICES.problems.items())
    raise RuntimeError(f"FIG_REQUIRE_SERVICES=1 but these services are not reachable: {details}")
