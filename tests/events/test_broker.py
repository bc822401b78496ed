import json

import kombu
from django.test import TransactionTestCase

from events.models import Event
from tests.consumers.events import needs_rabbitmq_and_postgresql, publish
from tests.events.processes import Relay
from tests.servers import wait_for
from tests.webhooks.deliveries import deliver, encode, make_order, payment_succeeded
from tests.workers import Broker, CeleryWorker

EXCHANGE = kombu.Exchange("idem.events", type="topic", durable=True)


@needs_rabbitmq_and_postgresql
class EventsOnTheBrokerTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)
        self.conn = self.broker.connection()
        self.addCleanup(self.conn.release)
        self.queue = kombu.Queue(
            "order-events", exchange=EXCHANGE, routing_key="order.*", durable=True
        )(self.conn.default_channel)
        self.queue.declare()

    def received(self):
        messages = []
        while (message := self.queue.get()) is not None:
            message.ack()
            messages.append(message)
        return messages

    def test_each_change_is_published_once_by_webhook_and_by_queue_with_duplicates(
        self,
    ):
        by_webhook, by_queue = make_order(), make_order()
        worker = CeleryWorker(self.broker.url).wait_until_ready()
        self.addCleanup(worker.stop)
        relay = Relay(self.broker.url)
        self.addCleanup(relay.stop)
        body = encode(payment_succeeded(by_webhook.pk, event_id="evt-web"))
        for _ in range(2):
            self.assertEqual(deliver(body).status_code, 200)
        deliver(encode(payment_succeeded(by_webhook.pk, event_id="evt-web-2")))
        publish(self.conn, payment_succeeded(by_queue.pk, event_id="evt-q"), times=2)
        publish(self.conn, payment_succeeded(by_queue.pk, event_id="evt-q-2"))
        messages = []

        def all_published():
            messages.extend(self.received())
            return (
                len(messages) >= 6
                and not Event.objects.filter(published_at__isnull=True).exists()
            )

        wait_for(all_published, 60, f"six events on the broker\n{relay.output()}")
        messages.extend(self.received())
        bodies = [json.loads(m.body) for m in messages]
        self.assertEqual(
            sorted((b["data"]["id"], b["sequence"], b["type"]) for b in bodies),
            sorted(
                (order.pk, n, kind)
                for order in (by_webhook, by_queue)
                for n, kind in enumerate(
                    ["order.created", "order.processing", "order.completed"], start=1
                )
            ),
        )
        for message, body in zip(messages, bodies, strict=True):
            with self.subTest(event=body["id"]):
                self.assertEqual(message.properties["message_id"], body["id"])
                self.assertEqual(message.delivery_info["routing_key"], body["type"])
                self.assertEqual(message.content_type, "application/json")
                self.assertEqual(message.properties["delivery_mode"], 2)
        self.assertEqual(len({b["id"] for b in bodies}), 6)
