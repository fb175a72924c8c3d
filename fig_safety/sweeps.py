"""The one way a periodic sweep claims due rows: lock them (skipping rows another sweep holds), stamp
them and act on them in one transaction, batch after batch, so a sweep run twice acts on nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

# Rows claimed, stamped and handled in one transaction. A sweep takes batch after batch until
# nothing is due, so it never leaves due rows for the next run.
BATCH = 1000


def claim_and_stamp(
    due: QuerySet,
    *,
    stamp: str,
    now: datetime,
    handle: Callable[[list], None],
    batch: int = BATCH,
    once: bool = False,
) -> int:
    """Lock up to `batch` rows of `due` that no other sweep holds, set their `stamp` field to `now`, and
    `handle` them (queue their emails; notify() sends after commit), all in one transaction; repeat until
    none are left, or stop after one batch with `once`. `due` must leave out stamped rows, or the loop would
    claim them again. `handle` runs under the row locks, so it must make no network call: a caller with
    one to make claims `once`, then calls after the commit. Returns how many rows were claimed."""
    claimed = 0
    while True:
        with transaction.atomic():
            rows = list(due.select_for_update(skip_locked=True, of=("self",))[:batch])
            if rows:
                due.model.objects.filter(pk__in=[row.pk for row in rows]).update(**{stamp: now})
                handle(rows)
        claimed += len(rows)
        if once or len(rows) < batch:
            return claimed
