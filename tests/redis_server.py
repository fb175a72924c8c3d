"""A Redis server of the test's own, for tests that lose Redis's data with a real FLUSHALL.

The shared test Redis holds other runs' caches and brokers, so nothing may flush
it. private_redis_server() starts /usr/bin/redis-server on a free loopback port,
keeping nothing on disk, and always stops it again.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from celery import Celery

from tests.processes import free_port
from tests.services import SERVICES

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class PrivateRedis:
    port: int
    log: Path

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url(), socket_timeout=5)


def _die_with_parent() -> Callable[[], object] | None:
    """On Linux, a pre-exec hook that has the kernel stop the server if this test process dies
    without running its clean-up (killed -9, say). libc is loaded here, before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    return lambda: libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start(binary: str, folder: Path, port: int) -> tuple[subprocess.Popen, PrivateRedis] | None:
    """Start a server on `port`; None if it exited (another process took the port meanwhile)."""
    log = folder / f"redis-{port}.log"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--daemonize",
            "no",
            "--logfile",
            str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent(),
    )
    server = PrivateRedis(port=port, log=log)
    probe = server.client()
    try:
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if probe.ping():
                    return process, server
            except redis.ConnectionError:
                time.sleep(0.02)
    except BaseException:
        _stop(process)
        raise
    finally:
        probe.close()
    _stop(process)
    return None


@contextmanager
def private_redis_server() -> Iterator[PrivateRedis]:
    """A fresh, empty Redis on 127.0.0.1 for the length of the `with`, stopped however the block ends."""
    binary = SERVICES.redis_server
    if binary is None:
        raise FileNotFoundError(SERVICES.problems["redis-server"])
    with tempfile.TemporaryDirectory(prefix="fig-test-redis-") as folder:
        for _ in range(5):  # the free port can be taken between choosing it and the server binding it
            started = _start(binary, Path(folder), free_port())
            if started is not None:
                break
        else:
            logs = "".join(path.read_text()[-1000:] for path in Path(folder).glob("*.log"))
            raise RuntimeError(f"{binary} did not start:\n{logs}")
        process, server = started
        try:
            yield server
        finally:
            _stop(process)


@contextmanager
def celery_reconnects(app: Celery) -> Iterator[None]:
    """Have `app` make new broker and result connections, from the settings as they are now, for the
    length of the `with`; then close them and give the app back the ones it had.

    Celery keeps its connection pool and its result backend once it has made them, so pointing
    CELERY_BROKER_URL at another server is not enough on its own.
    """
    local = app._local.__dict__
    saved = (app._pool, app.amqp._producer_pool, app._backend_cache, local.pop("backend", None))
    app._pool, app.amqp._producer_pool, app._backend_cache = None, None, None
    try:
        yield
    finally:
        for pool in (app.amqp._producer_pool, app._pool):
            if pool is not None:
                pool.force_close_all()
        local.pop("backend", None)
        app._pool, app.amqp._producer_pool, app._backend_cache, backend = saved
        if backend is not None:
            local["backend"] = backend
