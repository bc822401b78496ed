import json
import unittest

import kombu
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test import TransactionTestCase

from events.broker import EventPublisher
from events.models import Event
from events.relay import events_relay_once
from orders.models import Order
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


@unittest.skipUnless(connection.vendor == "postgresql", "needs row locks")
class SeveralRelaysTests(TransactionTestCase):
    """An event whose resource has an earlier one in another relay's batch waits."""

    def test_a_later_event_of_a_held_resource_waits_for_the_earlier_one(self):
        held, free = make_order(), make_order()
        first = Event.objects.get(resource_id=held.pk, sequence=1)
        other_relay = connections.create_connection(DEFAULT_DB_ALIAS)
        self.addCleanup(other_relay.close)
        other_relay.set_autocommit(False)
        with other_relay.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM events_event WHERE id = %s FOR UPDATE", [first.pk]
            )
        Order.objects.transition(held.pk, to="processing")
        with kombu.Connection("memory://") as conn:
            queue = kombu.Queue(
                f"orders-{held.pk}", exchange=EXCHANGE, routing_key="order.*"
            )(conn.default_channel)
            queue.declare()
            publisher = EventPublisher("memory://")
            self.addCleanup(publisher.close)
            self.assertEqual(events_relay_once(publisher=publisher), 1)
            other_relay.rollback()
            relay()
            published = []
            while (message := queue.get()) is not None:
                message.ack()
                body = json.loads(message.body)
                published.append((body["data"]["id"], body["sequence"]))
        self.assertEqual(published, [(free.pk, 1), (held.pk, 1), (held.pk, 2)])
