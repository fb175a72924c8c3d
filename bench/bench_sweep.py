"""The inbox deadline sweep (social.inbox.sweeps.inbox_sweep): time and queries, with 1,000 due and with none due.

Every run happens inside a transaction that is rolled back afterwards, so the
stamps (reminder_sent_at, escalated_at), the digest row and the outbox emails
are undone and the next run does the same work again. Because of the rollback,
email delivery (an on_commit hook) is not part of the time: the sweep's cost is
claiming, stamping and queuing the notices. `now` is the seed's reference time.

"Not due" messages are made scarcer by closing them inside the same rolled-back
transaction, so the same data serves the 100,000 and the 10,000 case.

The four main cases are the sweep as beat runs it 95 times a day: today's digest has
gone. A fifth measures the one sweep a day that sends the digest (which counts every
open message, so it grows with them).
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime

from bench import common

TARGET_SECONDS = 1.0
TARGET_GROWTH = 1.5  # the none-due sweep over 10x more not-due messages may cost at most this much more


class _Rollback(Exception):
    pass


def _measure(now: datetime, *, due: bool, keep_not_due: int | None, repeats: int, digest: bool = False) -> dict:
    """`digest`: whether today's digest is still to go (once a day), or has gone (the other 95 sweeps)."""
    from django.db import connection, transaction
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    from social.inbox.sweeps import inbox_sweep
    from social.models import Conversation

    seconds, queries, outcome = [], 0, {}
    for _i in range(repeats):
        try:
            with transaction.atomic():
                # Stamps left by an earlier run outside this benchmark (the rollback undoes this run's own).
                Conversation.objects.filter(Q(reminder_sent_at__isnull=False) | Q(escalated_at__isnull=False)).update(
                    reminder_sent_at=None, escalated_at=None
                )
                from social.models import DigestSent

                DigestSent.objects.all().delete()
                if not digest:
                    from django.utils import timezone

                    from fig_safety.times import LONDON

                    DigestSent.objects.create(day=timezone.localtime(now, LONDON).date(), sent_at=now)
                if not due:
                    Conversation.objects.filter(due_at__lte=now).update(status=Conversation.Status.CLOSED)
                if keep_not_due is not None:
                    keep = Conversation.objects.filter(due_at__gt=now).order_by("pk").values("pk")[:keep_not_due]
                    Conversation.objects.filter(due_at__gt=now).exclude(pk__in=keep).update(
                        status=Conversation.Status.CLOSED
                    )
                with connection.cursor() as cur:
                    cur.execute("ANALYZE social_conversation")
                open_due = Conversation.objects.filter(status="open", due_at__lte=now).count()
                open_not_due = Conversation.objects.filter(status="open", due_at__gt=now).count()
                with CaptureQueriesContext(connection) as captured, common.Timer() as t:
                    outcome = inbox_sweep(now)
                seconds.append(t.seconds)
                queries = len(captured.captured_queries)
                raise _Rollback
        except _Rollback:
            pass
    # The rolled-back runs leave dead row versions behind (the closing and the stamps): rewrite the table
    # so the next case, and the next benchmark, scan what the seed made and nothing more.
    common.vacuum(full=("social_conversation",))
    return {
        "open_due": open_due,
        "open_not_due": open_not_due,
        "queries": queries,
        "result": outcome,
        "median_ms": round(statistics.median(seconds) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
        "n": len(seconds),
    }


def run() -> list[dict]:
    common.setup()
    from django.utils import timezone

    from bench.seed import seeded_info
    from fig_safety.times import LONDON

    info = seeded_info()
    now = datetime.fromisoformat(info["reference_time"])
    repeats = int(os.environ.get("FIG_BENCH_SWEEP_REPEATS", "5"))
    not_due_small = max(1, int(round(10000 * info["scale"])))

    cases = [
        ("sweep, due, all not-due", {"due": True, "keep_not_due": None}),
        (f"sweep, due, {not_due_small} not-due", {"due": True, "keep_not_due": not_due_small}),
        ("sweep, none due, all not-due", {"due": False, "keep_not_due": None}),
        (f"sweep, none due, {not_due_small} not-due", {"due": False, "keep_not_due": not_due_small}),
        ("sweep with the daily digest, none due, all not-due", {"due": False, "keep_not_due": None, "digest": True}),
    ]
    # The digest goes only from 08:00 on London's clock: a seed made earlier in the day measures it at 08:30.
    local = timezone.localtime(now, LONDON)
    digest_now = now if local.hour >= 8 else local.replace(hour=8, minute=30, second=0, microsecond=0)
    measured = {name: _measure(digest_now if kw.get("digest") else now, repeats=repeats, **kw) for name, kw in cases}
    results = []
    for name, _ in cases:
        row = {"benchmark": "sweep", "name": name, **measured[name]}
        results.append(row)
    big_due, small_due, big_none, small_none, _digest = (measured[name] for name, _ in cases)
    results[4]["note"] = (
        "once a London day the sweep also sends the digest, which counts every open message: "
        "that one sweep grows with them"
    )
    # Targets: under 1 s with the due messages; cost not growing with the not-due ones.
    results[0]["target"] = f"< {TARGET_SECONDS * 1000:.0f} ms"
    results[0]["met"] = big_due["median_ms"] < TARGET_SECONDS * 1000
    handled = big_due["result"].get("reminders", 0)
    if handled < big_due["open_due"]:
        results[0]["note"] = (
            f"one sweep reminded {handled} of {big_due['open_due']} due messages "
            "(BATCH limit); the rest wait for the next sweep"
        )
    for row, big, small in ((results[2], big_none, small_none), (results[0], big_due, small_due)):
        growth = round(big["median_ms"] / small["median_ms"], 2) if small["median_ms"] else None
        row["growth_vs_fewer_not_due"] = growth
        row["queries_vs_fewer_not_due"] = f"{big['queries']} vs {small['queries']}"
    results[2]["target"] = (
        f"growth <= {TARGET_GROWTH}x from {small_none['open_not_due']} to {big_none['open_not_due']} not-due"
    )
    results[2]["met"] = bool(
        results[2]["growth_vs_fewer_not_due"] is not None
        and results[2]["growth_vs_fewer_not_due"] <= TARGET_GROWTH
        and big_none["queries"] == small_none["queries"]
    )
    return results


if __name__ == "__main__":
    import json

    for r in run():
        print(json.dumps(r, default=str))
