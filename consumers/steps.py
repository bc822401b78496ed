"""The worker's bootstep that consumes the payment-events queue."""

import os
from typing import Any

from celery import bootsteps
from django.db import connections
from kombu import Consumer

from consumers.payment_events import PaymentEventsConsumer, quorum_transport
from consumers.queues import payment_queues_declare


def _release_database_connections() -> None:
    """Close this process's database connections and pools.

    Run in the worker's main process right before it forks a pool process
    (to replace one that died): the consumer uses the database in that
    process, and a child must not inherit a connection, or a pool of them,
    that the parent goes on using.
    """
    for connection in connections.all(initialized_only=True):
        connection.close()
        if connection.settings_dict["OPTIONS"].get("pool"):
            connection.close_pool()


class PaymentEventsStep(bootsteps.ConsumerStep):
    """Consume ``PAYMENT_EVENTS_QUEUE`` in the worker's main process, one message at a time.

    Added to the worker's consumer blueprint in ``idem_project/celery.py``; it
    runs in every ``celery worker`` and in no other process.
    """

    fork_hook_registered = False

    def get_consumers(self, channel: Any) -> list[Consumer]:
        """Return the one consumer of the queue, on the worker's broker connection."""
        if not PaymentEventsStep.fork_hook_registered:
            os.register_at_fork(before=_release_database_connections)
            PaymentEventsStep.fork_hook_registered = True
        if quorum_transport(channel.connection.client):
            # Quorum queues on RabbitMQ; classic ones of an earlier version
            # are migrated first (docs/queues.md#quorum-queues).
            payment_queues_declare(channel.connection.client)
        handler = PaymentEventsConsumer(channel)
        return [
            Consumer(
                channel,
                queues=[handler.queue],
                on_message=handler.on_message,
                prefetch_count=1,
            )
        ]
