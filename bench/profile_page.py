"""Profile one page as a seeded user, with pyinstrument, against the benchmark database.

    python -m bench.profile_page /social/inbox/ social_admin [--requests 20] [--sql]

Signs in as the seed's user for the role, warms the page up, then profiles the requests and prints
pyinstrument's call tree (and, with --sql, each query the page runs with its time).
"""

from __future__ import annotations

import argparse
import time

from bench import common


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("role")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--sql", action="store_true", help="list the queries of one request with their times")
    args = parser.parse_args(argv)

    common.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from bench.seed import seeded_info
    from staff.models import User

    client = Client()
    client.force_login(User.objects.get(email=seeded_info()["users"][args.role]))
    for _ in range(3):
        response = client.get(args.url)
    print(f"GET {args.url} as {args.role}: {response.status_code}, {len(response.content)} bytes")
    if args.sql:
        with CaptureQueriesContext(connection) as captured:
            client.get(args.url)
        for query in captured.captured_queries:
            print(f"{float(query['time']) * 1000:8.2f} ms  {query['sql'][:400]}")
    profiler = Profiler(interval=0.0005)
    start = time.perf_counter()
    with profiler:
        for _ in range(args.requests):
            client.get(args.url)
    print(f"{(time.perf_counter() - start) / args.requests * 1000:.1f} ms a request")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
