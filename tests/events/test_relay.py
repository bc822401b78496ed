import json

import kombu
from django.test import TransactionTestCase

from events.models import Event
from tests.events.helpers import relay
from tests.factories import make_user
from tests.webhooks.deliveries import make_order

EXCHANGE = kombu.Exchange("idem.events", type="topic", durable=True)


class RelayOnAVirtualTransportTests(TransactionTestCase):
    """kombu's virtual transports (memory here, filesystem for ``make run``) route topics."""

    def test_order_events_reach_a_queue_bound_to_order_star_with_their_properties(self):
        with kombu.Connection("memory://") as conn:
            queue = kombu.Queue(
                f"orders-{make_user().pk}", exchange=EXCHANGE, routing_key="order.*"
            )(conn.default_channel)
            queue.declare()
            order = make_order(status="completed")
            relay()
            messages = []
            while (message := queue.get()) is not None:
                message.ack()
                messages.append(message)
        self.assertFalse(Event.objects.filter(published_at__isnull=True).exists())
        bodies = [json.loads(m.body) for m in messages]
        self.assertEqual(
            [(b["type"], b["sequence"], b["data"]["id"]) for b in bodies],
            [
                ("order.created", 1, order.pk),
                ("order.processing", 2, order.pk),
                ("order.completed", 3, order.pk),
            ],
        )
        for message, body in zip(messages, bodies, strict=True):
            self.assertEqual(message.properties["message_id"], body["id"])
            self.assertEqual(message.content_type, "application/json")
            self.assertEqual(message.properties["delivery_mode"], 2)
