"""Run one callable in many threads released together, for race tests on PostgreSQL."""

import threading
import unittest
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")

needs_postgresql = unittest.skipIf(
    connection.vendor != "postgresql",
    "needs PostgreSQL: SQLite serialises writers, so there is no race to test",
)


def run_together(
    func: Callable[[], T], *, threads: int = 16
) -> list[T | BaseException]:
    """Call ``func`` in ``threads`` threads released by one barrier; return each outcome.

    Each thread closes its own database connection. An exception raised in a
    thread is returned in its place, so the caller can assert there were none.
    """
    barrier = threading.Barrier(threads)
    results: list[T | BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            outcome: T | BaseException = func()
        except BaseException as exc:  # noqa: BLE001  handed back to the asserting test
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results
