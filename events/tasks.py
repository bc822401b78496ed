"""The events app's Celery tasks: thin wrappers around a delivery attempt and the purge."""

from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError, close_old_connections

from events.services import delivery_attempt, events_purge

#: Retries of a delivery task whose database failed: 1, 2, 4, ... seconds
#: apart with full jitter, capped at 20, together less than REDISPATCH_AFTER.
DATABASE_RETRIES = 5


@shared_task(bind=True, name="events.deliver")
def delivery_attempt_task(self: Any, delivery_id: int) -> str:
    """Attempt one webhook delivery; a retry is handed over again by the relay when due.

    A database that fails (PostgreSQL restarting, no connection to be had)
    retries the task with backoff, so the hand-over's slot at its endpoint
    is used once the database is back rather than held until REDISPATCH_AFTER;
    past the last retry the relay hands the delivery over again then.
    """
    try:
        return delivery_attempt(delivery_id=delivery_id)
    except (InterfaceError, OperationalError) as exc:
        # The connection may be broken: the retry gets a fresh one.
        close_old_connections()
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=20, full_jitter=True
        )
        raise self.retry(
            countdown=countdown, exc=exc, max_retries=DATABASE_RETRIES
        ) from None


@shared_task(name="events.purge")
def events_purge_task() -> int:
    """Delete the events whose deliveries are done, past OUTBOX_RETENTION_DAYS."""
    return events_purge()
