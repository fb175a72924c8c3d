"""A fixed-window rate limit on anything a signed-in person does often (the live post check), kept in the
cache (Redis in production, so every web process counts together; while Redis is away, each process counts
on its own: fig_safety/cache.py).

Rates are written as allauth writes its own: "20/m,300/h" (per second, minute, hour or day).
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Unavailable(Exception):
    """The cache that keeps the counts failed outright: nobody can be counted, so the caller decides whether to
    refuse (a safeguard) or go on. Not when Redis is down: the production cache then counts in memory."""


def parse_rates(rates: str) -> list[tuple[int, int]]:
    """[(how many, in how many seconds)] from "20/m,300/h"; ImproperlyConfigured for anything else."""
    parsed = []
    for rate in (r.strip() for r in rates.split(",") if r.strip()):
        count, _, unit = rate.partition("/")
        if not count.isdigit() or unit not in _UNITS or int(count) < 1:
            raise ImproperlyConfigured(f"A rate must look like 20/m or 300/h, not {rate!r}.")
        parsed.append((int(count), _UNITS[unit]))
    return parsed


def allow(key: str, rates: str) -> bool:
    """Count one use of `key` against every rate in `rates`; False once any of them is used up (the use is
    still counted, so a caller hammering on stays refused until the window turns). Unavailable when the
    cache cannot be reached."""
    allowed = True
    now = time.time()
    for limit, seconds in parse_rates(rates):
        window_key = f"rate:{key}:{seconds}:{int(now // seconds)}"
        try:
            count = _count(window_key, seconds)
        except Exception as exc:  # whatever the cache backend raises when its server is away
            raise Unavailable(str(exc)) from exc
        allowed = allowed and count <= limit
    return allowed


def _count(window_key: str, seconds: int) -> int:
    if cache.add(window_key, 1, timeout=seconds + 5):
        return 1
    try:
        return cache.incr(window_key)
    except ValueError:  # expired between add and incr
        cache.set(window_key, 1, timeout=seconds + 5)
        return 1
