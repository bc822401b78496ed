"""The outbox's Celery tasks: thin wrappers around its services."""

from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from outbox.services import message_deliver, messages_relay


@shared_task(bind=True, name="outbox.deliver")
def message_deliver_task(self: Any, dedupe_key: str) -> str:
    """Carry out one outbox message; retry with the backoff set in idem_project/celery.py."""
    delivery = message_deliver(dedupe_key=dedupe_key)
    if delivery.backoff:
        raise self.retry(
            countdown=get_exponential_backoff_interval(
                factor=self.retry_backoff,
                retries=self.request.retries,
                maximum=self.retry_backoff_max,
                full_jitter=self.retry_jitter,
            )
        )
    if delivery.retry_in is not None:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.outcome


@shared_task(name="outbox.relay")
def messages_relay_task() -> int:
    """Hand over the messages committed but not carried out in time."""
    return messages_relay()
