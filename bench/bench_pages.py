"""Pages: server time and queries per request for the busy pages, against a minimal signed-in view.

Each page is requested through Django's test Client (the whole middleware
stack, templates included; no network), signed in as the role that uses it,
with a TOTP authenticator and the current policy acknowledged so the MFA and
policy middleware pass. Requests are interleaved round-robin with the minimal
view (`/bench/minimal/`: login_required + HttpResponse("ok"), added by this
module's URLconf on top of the project's), so machine noise hits both alike.
Queries are counted on a separate request with CaptureQueriesContext, so the
counting does not slow the timed requests.
"""

from __future__ import annotations

import os

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path

from bench import common

TARGET_RATIO = 2.0
TARGET_QUERIES = 12


@login_required
def minimal(request):
    return HttpResponse("ok")


def __getattr__(name: str):
    """This module is also the benchmark's URLconf; built lazily, once Django is set up."""
    if name == "urlpatterns":
        return [path("bench/minimal/", minimal), path("", include("fig_safety.urls"))]
    raise AttributeError(name)


# (name, role in the seed's users, url)
PAGES = [
    ("vault gallery", "coordinator", "/photos/"),
    ("consent register", "coordinator", "/consents/"),
    ("post list", "social_admin", "/social/posts/"),
    ("post review queue", "social_admin", "/social/posts/review/"),
    ("inbox", "social_admin", "/social/inbox/"),
    ("social dashboard", "social_admin", "/social/dashboard/"),
    ("staff home (CEO)", "ceo", "/"),
]
MINIMAL_URL = "/bench/minimal/"


def run() -> list[dict]:
    common.setup()
    from bench.seed import seeded_info

    info = seeded_info()
    requests = int(os.environ.get("FIG_BENCH_REQUESTS", "50"))

    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from staff.models import User

    # No setup_test_environment(): it instruments template rendering (a copy of the context for every
    # template and include), which a real server does not do and which would slow the pages alone.
    with override_settings(ROOT_URLCONF="bench.bench_pages"):
        clients = {}
        for role in {role for _, role, _ in PAGES}:
            client = Client()
            client.force_login(User.objects.get(email=info["users"][role]))
            clients[role] = client
        targets = [(name, role, url) for name, role, url in PAGES] + [
            (f"minimal view ({role})", role, MINIMAL_URL) for role in sorted(clients)
        ]
        queries, sizes = {}, {}
        for name, role, url in targets:  # warm up, check it works, count queries
            for _ in range(3):
                response = clients[role].get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: GET {url} as {role} answered {response.status_code}")
            with CaptureQueriesContext(connection) as captured:
                response = clients[role].get(url)
            queries[name] = len(captured.captured_queries)
            sizes[name] = len(response.content)
        times: dict[str, list[float]] = {name: [] for name, _, _ in targets}
        for _ in range(requests):
            for name, role, url in targets:
                with common.Timer() as t:
                    clients[role].get(url)
                times[name].append(t.seconds)

    floors = {role: common.summary_ms(times[f"minimal view ({role})"]) for role in clients}
    results = []
    for name, role, url in targets:
        stats = common.summary_ms(times[name])
        row = {
            "benchmark": "pages",
            "name": name,
            "role": role,
            "url": url,
            "queries": queries[name],
            **stats,
            "bytes": sizes[name],
        }
        if url != MINIMAL_URL:
            floor = floors[role]["median_ms"]
            row["floor_median_ms"] = floor
            row["queries_over_floor"] = queries[name] - queries[f"minimal view ({role})"]
            row["ratio"] = round(stats["median_ms"] / floor, 2) if floor else None
            row["target"] = f"ratio <= {TARGET_RATIO}, queries <= {TARGET_QUERIES}"
            row["met"] = bool(
                row["ratio"] is not None and row["ratio"] <= TARGET_RATIO and queries[name] <= TARGET_QUERIES
            )
            if not row["met"]:
                missed = []
                if row["ratio"] is None or row["ratio"] > TARGET_RATIO:
                    missed.append(f"{row['ratio']}x the minimal view")
                if queries[name] > TARGET_QUERIES:
                    missed.append(f"{queries[name]} queries")
                row["missed"] = ", ".join(missed)
        results.append(row)
    return results


if __name__ == "__main__":
    import json

    for r in run():
        print(json.dumps(r))
