"""The worker's bootstep that consumes the payment-events queue."""

from typing import Any

from celery import bootsteps
from kombu import Consumer

from consumers.payment_events import PaymentEventsConsumer


class PaymentEventsStep(bootsteps.ConsumerStep):
    """Consume ``PAYMENT_EVENTS_QUEUE`` in the worker's main process, one message at a time.

    Added to the worker's consumer blueprint in ``idem_project/celery.py``; it
    runs in every ``celery worker`` and in no other process.
    """

    def get_consumers(self, channel: Any) -> list[Consumer]:
        """Return the one consumer of the queue, on the worker's broker connection."""
        handler = PaymentEventsConsumer(channel)
        return [
            Consumer(
                channel,
                queues=[handler.queue],
                on_message=handler.on_message,
                prefetch_count=1,
            )
        ]
