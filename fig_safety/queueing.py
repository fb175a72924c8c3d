"""Queueing a Celery task once the transaction commits, without letting a broker outage turn a change
already stored into an error page.

The work a task queued this way does should be found undone and queued again by a sweep (the outbox, posts,
inbox and vault sweeps do so), so that a task the broker never took is late, not lost.
"""

from __future__ import annotations

import logging

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def queue_after_commit(task: Task, *args, **kwargs) -> None:
    """Queue `task` with these arguments (ids) after the current transaction commits, or at once outside one.
    With the broker away a warning is logged and nothing is raised: the sweep that watches this work
    queues it again."""
    transaction.on_commit(Queued(task, args, kwargs), robust=True)


class Queued:
    """What on_commit holds: the task and its arguments, for a test to read."""

    def __init__(self, task: Task, args: tuple, kwargs: dict) -> None:
        self.task, self.args, self.kwargs = task, args, kwargs
        self.__qualname__ = f"queue_after_commit({task.name})"  # how Django names a robust callback that fails

    def __call__(self) -> None:
        try:
            self.task.delay(*self.args, **self.kwargs)
        except OperationalError as exc:  # kombu's word for "could not reach the broker"
            log.warning("Could not queue %s (%s); its sweep will queue it again.", self.task.name, exc)
