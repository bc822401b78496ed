"""The outbox's Celery tasks: thin wrappers around its services."""

import time
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections

from outbox.broker import messages_relay
from outbox.delivery import message_deliver
from outbox.services import records_purge


@shared_task(bind=True, name="outbox.deliver")
def message_deliver_task(self: Any, dedupe_key: str) -> str:
    """Carry out one outbox message; retry with the backoff set in idem_project/celery.py.

    A database error (PostgreSQL restarting, no connection to be had) is a
    temporary failure like a mail server's ``4xx``: the task is retried with
    the same backoff, never dropped.
    """
    try:
        delivery = message_deliver(dedupe_key=dedupe_key)
    except DatabaseError as exc:
        # The connection may be broken: the retry gets a fresh one.
        close_old_connections()
        raise self.retry(countdown=_backoff(self), exc=exc) from None
    if delivery.backoff:
        raise self.retry(countdown=_backoff(self))
    if delivery.retry_in is not None:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.outcome


def _backoff(task: Any) -> float:
    """Return the pause before the next retry: exponential, capped, with jitter."""
    return get_exponential_backoff_interval(
        factor=task.retry_backoff,
        retries=task.request.retries,
        maximum=task.retry_backoff_max,
        full_jitter=task.retry_jitter,
    )


#: The cache key under which the relay notes when it last ran (a Unix time).
RELAY_LAST_RUN = "outbox:relay:last-run"


@shared_task(name="outbox.relay")
def messages_relay_task() -> int:
    """Hand over the messages committed but not carried out in time.

    Notes the time it ran in the cache (the database), which /metrics shows
    as ``scheduler_last_run_seconds``.
    """
    count = messages_relay()
    cache.set(RELAY_LAST_RUN, time.time(), timeout=None)
    return count


@shared_task(name="outbox.purge")
def records_purge_task() -> dict[str, int]:
    """Delete the processed-message records past OUTBOX_RETENTION_DAYS."""
    return records_purge()
