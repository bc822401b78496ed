"""The events app's Celery tasks: thin wrappers around a delivery attempt and the purge."""

from celery import shared_task

from events.services import delivery_attempt, events_purge


@shared_task(name="events.deliver")
def delivery_attempt_task(delivery_id: int) -> str:
    """Attempt one webhook delivery; a retry is handed over again by the relay when due."""
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(name="events.purge")
def events_purge_task() -> int:
    """Delete the events whose deliveries are done, past OUTBOX_RETENTION_DAYS."""
    return events_purge()
