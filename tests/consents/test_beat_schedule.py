"""The consent sweep (expire links, remind after a week, ask for renewal before expiry) is on Celery
beat's schedule, in code, and names a task the worker has registered."""

from __future__ import annotations

import pytest
from celery.schedules import crontab

from consents import sweeps
from fig_safety.celery import app

SWEEP = "consents.tasks.consent_sweep"


def test_the_consent_sweep_is_on_the_beat_schedule_at_least_hourly():
    entries = [entry for entry in app.conf.beat_schedule.values() if entry["task"] == SWEEP]
    assert len(entries) == 1, app.conf.beat_schedule
    schedule = entries[0]["schedule"]
    # Hourly: a reminder or a renewal is never more than an hour late.
    assert isinstance(schedule, crontab)
    assert schedule.hour == set(range(24)) and schedule.day_of_week == set(range(7))
    assert len(schedule.minute) >= 1


@pytest.fixture
def registered() -> None:
    app.loader.import_default_modules()  # what a worker does at start: finds every app's tasks.py


def test_the_scheduled_name_is_a_registered_task(registered):
    assert SWEEP in app.tasks
    assert app.tasks[SWEEP].__module__ == "consents.tasks"


@pytest.mark.django_db
def test_the_task_runs_every_part_of_the_sweep(registered, monkeypatch):
    ran = []
    parts = ("expire_requests", "send_request_reminders", "request_renewals", "send_lapse_notices", "act_on_lapses")
    for part in parts:
        monkeypatch.setattr(sweeps, part, lambda now=None, part=part: ran.append(part) or 0)
    assert app.tasks[SWEEP].apply().get() == {
        "expired": 0,
        "reminded": 0,
        "renewals": 0,
        "lapse_notices": 0,
        "lapsed": 0,
    }
    assert ran == list(parts)
