"""Whether the database and the broker answer, each within a short deadline."""

import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import DatabaseError, connection
from kombu import Connection
from kombu.exceptions import KombuError

#: Seconds /healthz waits for the database and the broker together.
DEADLINE_SECONDS = 1.5

# One thread a dependency: a check that hangs past the deadline (a pool that
# waits for a connection, a broker that accepts and never answers) keeps its
# thread, and the checks after it queue, time out and answer "unhealthy"
# instead of piling up threads.
_database_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-db")
_broker_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-mq")


def database_answers() -> bool:
    """Return whether the default database runs a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False
    finally:
        # Give the connection back (to the pool) rather than keep it in this thread.
        connection.close()


def broker_answers(url: str) -> bool:
    """Return whether the broker at ``url`` accepts a connection."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    try:
        with Connection(
            url, connect_timeout=DEADLINE_SECONDS, transport_options=options
        ) as broker:
            broker.ensure_connection(max_retries=1, timeout=DEADLINE_SECONDS)
    except (OSError, KombuError):
        return False
    return True


def healthy() -> bool:
    """Return whether the database and, when one is configured, the broker answer.

    Both are asked at once, and waited for DEADLINE_SECONDS at most in all.
    """
    deadline = time.monotonic() + DEADLINE_SECONDS
    checks: list[Future[bool]] = [_database_thread.submit(database_answers)]
    url = getattr(settings, "CELERY_BROKER_URL", "")
    if url:
        checks.append(_broker_thread.submit(broker_answers, url))
    for check in checks:
        try:
            if not check.result(timeout=max(deadline - time.monotonic(), 0)):
                return False
        except FutureTimeout:
            return False
    return True
