"""The cache in production: Redis, and while Redis cannot be reached, this process's own memory instead, so
that an outage slows nothing down and takes nothing down.

Nothing kept in the cache is the only copy of anything (sessions are in the database): rate limits, used
two-step codes and the dashboard's figures. While Redis is away they are kept per process, so a rate limit
still counts, in each web process on its own, and a warning says so.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class FailSafeRedisCache(RedisCache):
    """Django's Redis cache, falling back to a local-memory cache of this process whenever Redis answers with
    an error (down, timing out, out of memory, read-only). After a failure Redis is left alone for
    `retry_after` seconds, so an unreachable server costs one timeout per process, not one per call.

    Set short socket timeouts in OPTIONS (settings.CACHES): the default is five seconds a call.
    """

    retry_after: ClassVar[float] = 5.0
    warn_every: ClassVar[float] = 60.0
    # Per process, shared by every thread's instance: LOCATION -> until when Redis is left alone.
    _down_until: ClassVar[dict[str, float]] = {}
    _warned_at: ClassVar[dict[str, float]] = {}

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = ",".join(self._servers)
        # LocMemCache keeps its entries in a module-level dict by name, so every thread shares this one.
        self._fallback = LocMemCache(
            f"fail-safe:{self._location}",
            {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 10_000}},
        )

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() < self._down_until.get(self._location, 0.0):
            return getattr(self._fallback, name)(*args, **kwargs)
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except RedisError as exc:
            self._gone(exc)
            return getattr(self._fallback, name)(*args, **kwargs)
        if self._down_until.pop(self._location, None) is not None:
            log.warning("Redis cache reachable again.")
        return result

    def _gone(self, exc: RedisError) -> None:
        now = time.monotonic()
        self._down_until[self._location] = now + self.retry_after
        if now - self._warned_at.get(self._location, -self.warn_every) >= self.warn_every:
            self._warned_at[self._location] = now
            # The error's class and text only (host and port): never a key or a value.
            log.warning(
                "Redis cache unreachable (%s: %s); this process keeps its cache, rate limits included, in its own "
                "memory until it is back.",
                type(exc).__name__,
                exc,
            )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout=timeout, version=version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default=default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout=timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout=timeout, version=version)

    def delete(self, key, version=None):
        return self._call("delete", key, version=version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version=version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version=version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta=delta, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout=timeout, version=version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version=version)

    def clear(self):
        return self._call("clear")
