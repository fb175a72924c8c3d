"""Celery: the settings the issue asks for, and real workers consuming real brokers."""

# disable_sync_subtasks=False on every .get(): eager tasks run earlier in this test process can leave
# Celery believing it is inside a task, and it then refuses to wait on a result. We are a client here.

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from celery.schedules import maybe_schedule
from django.conf import settings
from django.utils import timezone

from fig_safety.celery import app
from social.models import Post, PostChannel
from social.posts import services as posts
from tests import factories
from tests.processes import fresh_environment
from tests.social.fake_graph import page_graph

ROOT = Path(settings.BASE_DIR)


def test_it_acknowledges_late_and_prefetches_one():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.timezone == "Europe/London"


def test_the_beat_schedule_lives_in_code_and_names_real_tasks():
    app.loader.import_default_modules()
    assert app.conf.beat_schedule
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


@pytest.mark.django_db
def test_beat_sends_back_posts_past_their_time_and_sends_those_due_every_minute(
    settings, django_capture_on_commit_callbacks
):
    """The policy: a post not approved before its scheduled time goes back to its author, and each channel of an
    approved one goes out within a minute of its time. The sweep that does both (social.posts.services.posts_sweep:
    expire_unapproved, channels.send_due and channels.resume_sending) must be on the schedule, every minute, and
    the task must run it."""
    app.loader.import_default_modules()
    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == "social.tasks.posts_sweep"]
    assert entry["task"] in app.tasks
    schedule = maybe_schedule(entry["schedule"])
    now = schedule.now()
    # Whenever it last ran, it runs again within a minute.
    for minutes_ago in (0, 1, 4):
        assert schedule.remaining_estimate(now - timedelta(minutes=minutes_ago)) <= timedelta(minutes=1)

    author = factories.staff_user("staff", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    with page_graph(settings) as graph:
        late, due = (
            posts.post_save_draft(
                author=author,
                text="See you at the picnic!",
                channels=[channel],
                photos=[],
                scheduled_for=timezone.now() + timedelta(hours=1),
            )
            for channel in ("website", "facebook")
        )
        for post in (late, due):
            posts.post_submit(post=post, by=author)
        posts.post_approve(post=due, by=admin, checklist=dict.fromkeys(posts.CHECKLIST, True), dismissals={})
        Post.objects.filter(pk__in=[late.pk, due.pk]).update(scheduled_for=timezone.now() - timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert app.tasks[entry["task"]].apply().get(disable_sync_subtasks=False) == {
                "expired": 1,
                "sent_at_their_time": 1,
                "sending_resumed": 0,
                "deletes_resumed": 0,
            }
        assert len(graph.to("feed")) == 1
    late.refresh_from_db()
    assert (late.status, late.review_note) == (Post.Status.CHANGES_REQUESTED, posts.EXPIRED_NOTE)
    due.refresh_from_db()
    assert due.status == Post.Status.PUBLISHED
    assert due.deliveries.get().state == PostChannel.State.SENT


def _worker_env(**extra: str) -> dict[str, str]:
    return fresh_environment(
        DJANGO_SETTINGS_MODULE="fig_safety.settings", DJANGO_DEBUG="1", EMAIL_URL="consolemail://", **extra
    )


def _start_worker(env: dict[str, str], *extra_args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "fig_safety",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(worker: subprocess.Popen) -> str:
    worker.terminate()
    try:
        output, _ = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    return output


def test_make_runs_embedded_broker_carries_a_task_to_a_real_worker(tmp_path):
    """`make run` has no Redis: kombu's filesystem transport under var/ carries the tasks."""
    worker = _start_worker(_worker_env(FIG_VAR_DIR=str(tmp_path), REDIS_URL=""))
    try:
        broker = tmp_path / "celery"
        for folder in ("queue", "processed", "results", "control"):  # the worker makes them too, but may be slower
            (broker / folder).mkdir(parents=True, exist_ok=True)
        client = Celery(
            "probe",
            set_as_current=False,  # a second app must not become the current one for the rest of the run
            broker="filesystem://",
            backend=f"file://{broker / 'results'}",
            broker_transport_options={
                "data_folder_in": str(broker / "queue"),
                "data_folder_out": str(broker / "queue"),
                "processed_folder": str(broker / "processed"),
                "control_folder": str(broker / "control"),
                "store_processed": False,
            },
        )
        result = client.send_task("fig_safety.ping", args=["embedded"])
        assert result.get(timeout=60, disable_sync_subtasks=False) == "embedded"
    finally:
        output = _stop(worker)
    assert "fig_safety.ping" in output


@pytest.mark.redis
def test_a_real_worker_consumes_tasks_from_redis():
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/13"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    worker = _start_worker(_worker_env(REDIS_URL=redis_url, FIG_VAR_DIR=str(Path(settings.FIG_TEST_VAR_DIR) / "w")))
    try:
        client = Celery("probe", set_as_current=False, broker=redis_url, backend=redis_url)
        started = time.monotonic()
        result = client.send_task("fig_safety.ping", args=["redis"])
        assert result.get(timeout=60, disable_sync_subtasks=False) == "redis"
        assert time.monotonic() - started < 60
    finally:
        _stop(worker)
