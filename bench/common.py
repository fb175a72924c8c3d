"""Shared benchmark plumbing: the environment, a dedicated PostgreSQL database, timing and results.

Everything runs against the real settings module (fig_safety.settings) with the
environment below; only the database (`fig_bench`), the Redis database (9) and
the var folder (bench/.var) are the benchmark's own.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
VAR_DIR = Path(os.environ.get("FIG_BENCH_VAR") or BENCH_DIR / ".var")
RESULTS_DIR = Path(os.environ.get("FIG_BENCH_RESULTS") or BENCH_DIR / "results")

DB_NAME = os.environ.get("FIG_BENCH_DB", "fig_bench")
DB_HOST = os.environ.get("FIG_BENCH_DB_HOST", "127.0.0.1")
DB_PORT = os.environ.get("FIG_BENCH_DB_PORT", "5432")
DB_USER = os.environ.get("FIG_BENCH_DB_USER", "postgres")
DB_PASSWORD = os.environ.get("FIG_BENCH_DB_PASSWORD", "")
# A fixed key, for benchmark data only: 32 bytes of base64.
BENCH_VAULT_KEY = "bench1:" + "QmVuY2htYXJrS2V5Rm9yRmlHU2FmZXR5T25seTAwMDA"

_ready = False


def database_url(name: str = DB_NAME) -> str:
    auth = DB_USER + (f":{DB_PASSWORD}" if DB_PASSWORD else "")
    return f"postgres://{auth}@{DB_HOST}:{DB_PORT}/{name}"


def configure_env() -> None:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "mail").mkdir(exist_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "fig_safety.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ.get("FIG_BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9",
        "FIG_CACHE_PREFIX": f"figbench-{DB_NAME}",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-" + "b" * 40,
        "EMAIL_URL": f"filemail://{VAR_DIR / 'mail'}",
        "FIG_VAULT_KEYS": BENCH_VAULT_KEY,
        "FIG_VAR_DIR": str(VAR_DIR),
        "FIG_STORAGE": "local",
        "DJANGO_STATIC_ROOT": str(VAR_DIR / "static"),
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_DEBUG": "0",
        "FIG_CELERY_EAGER": "1",
    }
    for key, value in env.items():
        os.environ[key] = value


def ensure_database() -> None:
    """Create the fig_bench database if it is missing."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(host=DB_HOST, port=DB_PORT, user=DB_USER, password=DB_PASSWORD or None, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    finally:
        conn.close()


def drop_database() -> None:
    """Drop fig_bench (used when the seed scale changes). Django's connections must be closed first."""
    import psycopg2
    from django.db import connections
    from psycopg2 import sql

    connections.close_all()
    conn = psycopg2.connect(host=DB_HOST, port=DB_PORT, user=DB_USER, password=DB_PASSWORD or None, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    finally:
        conn.close()


def _collectstatic_if_stale() -> None:
    """The real settings use whitenoise's manifest storage; build it once (and again when static/ changes)."""
    from django.core.management import call_command

    manifest = VAR_DIR / "static" / "staticfiles.json"
    newest = max((p.stat().st_mtime for p in (BASE_DIR / "static").rglob("*") if p.is_file()), default=0)
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        call_command("collectstatic", interactive=False, verbosity=0)


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def setup() -> None:
    """Configure, create and migrate the benchmark database. Safe to call many times."""
    global _ready
    if _ready:
        return
    configure_env()
    ensure_database()
    import django

    django.setup()
    migrate()
    _collectstatic_if_stale()
    _ready = True


# --- measuring -----------------------------------------------------------------------------------


def vacuum(*, full: tuple[str, ...] = ()) -> None:
    """VACUUM ANALYZE the benchmark database, and VACUUM FULL the `full` tables.

    Benchmarks that work inside rolled-back transactions (the sweep) leave dead rows behind; on a
    server with autovacuum off (as on the development machine) they would stay, and every later
    scan of the table would read them. Everything runs in autocommit, outside any transaction.
    """
    from django.db import connection

    with connection.cursor() as cur:
        for table in full:
            cur.execute(f'VACUUM (FULL, ANALYZE) "{table}"')
        cur.execute("VACUUM (ANALYZE)")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(round(pct / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 95), 2), "n": len(ms)}


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def scale() -> float:
    return float(os.environ.get("FIG_BENCH_SCALE", "1") or "1")


def machine() -> dict[str, str | int]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count() or 0,
        "processor": platform.processor() or platform.machine(),
    }


def write_results(results: list[dict], path: Path | None = None, **meta) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = path or RESULTS_DIR / "latest.json"
    payload = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **meta, "results": results}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
