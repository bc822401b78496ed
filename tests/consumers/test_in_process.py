import uuid

import kombu
from django.db import transaction
from django.test import TransactionTestCase, override_settings
from prometheus_client import REGISTRY

from consumers.payment_events import PaymentEventsConsumer
from tests.consumers.events import body_of, drain, publish
from tests.statements import statements_of
from tests.webhooks.deliveries import (
    deliver,
    encode,
    history,
    make_order,
    payment_succeeded,
    signature,
)
from webhooks.models import WebhookEvent
from webhooks.services import payment_event_accept, payment_succeeded_apply


def consumed(outcome):
    value = REGISTRY.get_sample_value(
        "consumed_messages_total",
        {"consumer": "payment-events", "outcome": outcome},
    )
    return value or 0.0


class PaymentEventsConsumerInProcessTests(TransactionTestCase):
    """The consumer on kombu's in-memory transport, in the test's own process."""

    def setUp(self):
        name = f"payment-events-{uuid.uuid4().hex[:8]}"
        self.queue, self.dead = name, name + ".dead"
        names = override_settings(
            PAYMENT_EVENTS_QUEUE=self.queue, PAYMENT_EVENTS_DEAD_QUEUE=self.dead
        )
        names.enable()
        self.addCleanup(names.disable)
        self.conn = kombu.Connection("memory://")
        self.addCleanup(self.conn.release)
        channel = self.conn.channel()
        handler = PaymentEventsConsumer(channel)
        self.consumer = kombu.Consumer(
            channel, queues=[handler.queue], on_message=handler.on_message
        )
        self.consumer.consume()

    def consume(self, count):
        for _ in range(count):
            self.conn.drain_events(timeout=5)

    def test_outcomes_are_counted_applied_duplicate_and_dead(self):
        order = make_order()
        before = {o: consumed(o) for o in ("applied", "duplicate", "dead")}
        event = payment_succeeded(order.pk, event_id="evt_counted")
        publish(self.conn, event, times=2, to=self.queue)
        publish(self.conn, b"{", to=self.queue)
        self.consume(3)
        after = {o: consumed(o) - before[o] for o in before}
        self.assertEqual(after, {"applied": 1.0, "duplicate": 1.0, "dead": 1.0})
        stored = WebhookEvent.objects.get()
        self.assertEqual((stored.source, stored.redeliveries), ("broker", 1))
        order.refresh_from_db()
        self.assertEqual(history(order), ["pending", "processing", "completed"])
        (dead,) = drain(self.conn, self.dead)
        self.assertEqual(body_of(dead), b"{")

    def test_an_event_already_received_by_the_webhook_is_not_applied_again(self):
        order = make_order()
        body = encode(payment_succeeded(order.pk, event_id="evt_both_ways"))
        self.assertEqual(deliver(body).status_code, 200)
        publish(self.conn, body, to=self.queue)
        self.consume(1)
        stored = WebhookEvent.objects.get()
        self.assertEqual((stored.source, stored.redeliveries), ("webhook", 1))
        order.refresh_from_db()
        self.assertEqual(history(order), ["pending", "processing", "completed"])


class ConsumerDedupeCostTests(TransactionTestCase):
    """The event's record costs two statements over its effect: its insert and its outcome."""

    def test_a_first_delivery_adds_at_most_two_statements_to_its_effect(self):
        plain_order, deduped_order = make_order(), make_order()

        def effect_only():
            with transaction.atomic():
                payment_succeeded_apply(payload=payment_succeeded(plain_order.pk))

        body = encode(payment_succeeded(deduped_order.pk, event_id="evt_cost"))
        plain = statements_of(effect_only)
        deduped = statements_of(
            lambda: payment_event_accept(
                body=body, signature=signature(body), source="broker"
            )
        )
        self.assertLessEqual(len(deduped) - len(plain), 2, deduped)
        deduped_order.refresh_from_db()
        self.assertEqual(deduped_order.status, "completed")
