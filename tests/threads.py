"""Running pieces of work at the same moment, each in its own thread with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def at_once(*work: Callable[[], object], timeout: float = 30) -> list[BaseException]:
    """Run each callable in a thread of its own and wait for all; what any of them raised, for the test's
    thread to report (an exception in a thread would otherwise only be printed)."""
    errors: list[BaseException] = []

    def run(piece: Callable[[], object]) -> None:
        try:
            piece()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(piece,)) for piece in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors
