"""`make bench` end to end, at a tiny scale, in a database of its own: it seeds, measures every
benchmark the issue asks for, prints a table and one JSON line per result, and writes the results file.

Nothing here is timed: the test checks that every figure is measured and every target reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest
from psycopg2 import sql

from tests.query_counts import SIGNED_IN_REQUEST_QUERIES
from tests.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PAGES = {"vault gallery", "consent register", "post list", "post review queue", "inbox", "social dashboard"}


def _drop(database: str, url) -> None:
    conn = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username, password=url.password, dbname="postgres"
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    database = f"fig_bench_test_{os.getpid()}"
    url = urlparse(SERVICES.postgres_url)
    redis = urlparse(SERVICES.redis_url)
    env = {
        **os.environ,
        "FIG_BENCH_DB": database,
        "FIG_BENCH_DB_HOST": url.hostname or "127.0.0.1",
        "FIG_BENCH_DB_PORT": str(url.port or 5432),
        "FIG_BENCH_DB_USER": url.username or "postgres",
        "FIG_BENCH_DB_PASSWORD": url.password or "",
        "FIG_BENCH_REDIS_URL": f"redis://{redis.hostname}:{redis.port or 6379}/9",
        "FIG_BENCH_VAR": str(folder / "var"),
        "FIG_BENCH_RESULTS": str(folder / "results"),
        "FIG_BENCH_REQUESTS": "3",
        "FIG_BENCH_SWEEP_REPEATS": "1",
        "FIG_BENCH_LOAD_SECONDS": "1",
        "FIG_BENCH_LOAD_CLIENTS": "2",
    }
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "FIG_VAR_DIR", "FIG_CACHE_PREFIX"):
        env.pop(name, None)  # the benchmark sets its own; the test run's must not leak in
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.run", "--scale", "0.01"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        _drop(database, url)
    results_file = folder / "results" / "latest.json"
    return done, (json.loads(results_file.read_text()) if results_file.exists() else None)


def test_it_runs_every_benchmark_without_an_error(bench_run):
    done, results = bench_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert results is not None
    assert not [row for row in results["results"] if row.get("name") == "ERROR"]
    assert results["seed"]["counts"] == {
        "families": 20,
        "children": 50,
        "photos": 200,
        "posts": 10,
        "messages": 1000,
        "due": 10,
    }
    assert results["machine"]["cpus"] >= 1


def test_it_prints_a_table_and_one_json_line_per_result(bench_run):
    done, results = bench_run
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["benchmark", "name", "median_ms"] for line in lines if line.strip())
    printed = [json.loads(line) for line in lines if line.startswith("{")]
    assert printed == json.loads(json.dumps(results["results"], default=str))


def test_pages_are_measured_against_the_minimal_view_with_their_queries(bench_run):
    _, results = bench_run
    pages = {row["name"]: row for row in results["results"] if row["benchmark"] == "pages"}
    assert set(pages) >= PAGES
    for name in PAGES:
        row = pages[name]
        assert row["n"] == 3 and row["queries"] >= 1 and row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"]
        assert row["ratio"] == pytest.approx(row["median_ms"] / row["floor_median_ms"], rel=0.01)
        assert row["target"] == "ratio <= 2.0, queries <= 12" and isinstance(row["met"], bool)
    assert pages["minimal view (coordinator)"]["queries"] == SIGNED_IN_REQUEST_QUERIES


def test_the_sweep_is_measured_with_messages_due_and_with_none(bench_run):
    _, results = bench_run
    sweeps = [row for row in results["results"] if row["benchmark"] == "sweep"]
    due, _, none_due, _, with_digest = sweeps
    assert due["open_due"] == 10 and due["result"]["reminders"] == 10 and due["result"]["escalations"] == 10
    assert none_due["open_due"] == 0 and none_due["result"]["reminders"] == 0 and none_due["result"]["digest"] == 0
    assert with_digest["result"]["digest"] == 1
    assert isinstance(due["met"], bool) and isinstance(none_due["met"], bool) and due["queries"] > 0


def test_photo_processing_memory_and_bombs_are_measured(bench_run):
    _, results = bench_run
    rows = {row["benchmark"]: row for row in results["results"]}
    pipeline = rows["photo_pipeline"]
    assert pipeline["ratio"] > 1 and pipeline["floor_median_s"] > 0 and "4000x3000" in pipeline["input"]
    assert 0 < rows["photo_pipeline_memory"]["peak_mb"] < 2000
    assert rows["photo_bomb_refusal"]["median_s"] > 0
    assert all(
        isinstance(rows[name]["met"], bool)
        for name in ("photo_pipeline", "photo_pipeline_memory", "photo_bomb_refusal")
    )


def test_load_runs_signed_in_clients_against_gunicorn_without_errors(bench_run):
    _, results = bench_run
    rows = {row["benchmark"]: row for row in results["results"]}
    for name in ("load_minimal_floor", "load_inbox", "load_gallery"):
        row = rows[name]
        assert row["requests"] > 0 and row["errors"] == 0 and "probe_status" not in row, row
        assert row["clients"] == 2 and row["workers"] == 2
    assert rows["load_inbox"]["ratio"] == pytest.approx(
        rows["load_minimal_floor"]["rps"] / rows["load_inbox"]["rps"], rel=0.01
    )


def test_register_names_are_measured_against_searching_every_name(bench_run):
    _, results = bench_run
    rows = [row for row in results["results"] if row["benchmark"] == "names"]
    assert len(rows) == 6  # three calls, on the seed's register and on a varied one
    for row in rows:
        assert row["queries"] == 2 and row["children"] == 50 and row["median_ms"] > 0 and row["old_median_ms"] > 0
        assert row["speedup"] == pytest.approx(row["old_median_ms"] / row["median_ms"], abs=0.1)


def test_faces_are_measured_with_the_check_of_a_blurred_version(bench_run):
    _, results = bench_run
    rows = {row["benchmark"]: row for row in results["results"]}
    detection = rows["faces_detection"]
    assert detection["floor_median_ms"] > 0 and detection["blur_boxes"] == 8 and isinstance(detection["met"], bool)
    again = rows["faces_check_again"]
    assert again["median_ms"] > 0 and again["whole_median_ms"] > 0 and again["boxes"] == 8
    assert rows["faces_memory"]["peak_mb"] > 0 and isinstance(rows["faces_memory"]["met"], bool)
