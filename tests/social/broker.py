"""A broker that is away, for tests of work queued during a Redis outage and resumed by a sweep."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from celery import Task
from kombu.exceptions import OperationalError

QUEUE_LOG = "fig_safety.queueing"


@contextmanager
def broker_away() -> Iterator[mock.Mock]:
    """Every task queued inside is refused as kombu refuses one with Redis down; yields the mock, whose calls
    are the tasks that could not be queued."""
    refused = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=refused) as apply_async:
        yield apply_async


def refused_tasks(apply_async: mock.Mock) -> list[tuple[str, tuple]]:
    """(task name, arguments) of each task the broker refused, in order."""
    return [(call.args[0].name, tuple(call.args[1])) for call in apply_async.call_args_list]
