"""The events app's Celery task: a thin wrapper around one delivery attempt."""

from celery import shared_task

from events.services import delivery_attempt


@shared_task(name="events.deliver")
def delivery_attempt_task(delivery_id: int) -> str:
    """Attempt one webhook delivery; a retry is handed over again by the relay when due."""
    return delivery_attempt(delivery_id=delivery_id)
