import json
import signal

import kombu
from celery import current_app
from django.test import TransactionTestCase

from events.broker import EventPublisher
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.relay import events_relay_once
from tests.consumers.events import needs_rabbitmq_and_postgresql, publish
from tests.events.processes import FAST_ENV, Relay
from tests.events.receiver import Receiver
from tests.servers import wait_for
from tests.webhooks.deliveries import deliver, encode, make_order, payment_succeeded
from tests.workers import Broker, CeleryWorker

EXCHANGE = kombu.Exchange("idem.events", type="topic", durable=True)


class OrderEventsQueue:
    """A broker of the test's own with a queue bound to ``order.*`` on ``idem.events``."""

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


@needs_rabbitmq_and_postgresql
class EventsOnTheBrokerTests(OrderEventsQueue, TransactionTestCase):
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

    def test_a_batch_is_confirmed_together_not_one_message_at_a_time(self):
        for _ in range(3):
            make_order()
        options = current_app.conf.broker_transport_options
        current_app.conf.broker_transport_options = {
            **options,
            "confirm_publish": True,
        }
        self.addCleanup(setattr, current_app.conf, "broker_transport_options", options)
        publisher = EventPublisher(self.broker.url)
        self.addCleanup(publisher.close)
        # kombu's confirm_publish would make each publish wait for its confirm.
        self.assertIs(publisher.connection.transport_options["confirm_publish"], False)
        self.assertTrue(publisher.confirms)
        self.assertEqual(events_relay_once(publisher=publisher), 3)
        self.assertEqual(len(self.received()), 3)


@needs_rabbitmq_and_postgresql
class UnconfirmedPublishTests(OrderEventsQueue, TransactionTestCase):
    """An event the broker refused, or may not have, stays unpublished and goes again."""

    def relay_fails(self, publisher):
        with self.assertRaises(publisher.errors):
            events_relay_once(publisher=publisher)
        publisher.close()
        self.assertFalse(Event.objects.filter(published_at__isnull=False).exists())
        self.assertFalse(WebhookDelivery.objects.exists())

    def relay_again(self):
        publisher = EventPublisher(self.broker.url)
        self.addCleanup(publisher.close)
        self.assertEqual(events_relay_once(publisher=publisher), 2)
        self.assertFalse(Event.objects.filter(published_at__isnull=True).exists())

    def test_an_event_the_broker_refuses_is_published_again(self):
        WebhookEndpoint.objects.create(url="https://example.com/hook", events=["*"])
        make_order(status="processing")
        self.broker.refuse_publishes("^order-events$")
        self.relay_fails(EventPublisher(self.broker.url))
        self.broker.accept_publishes()
        self.relay_again()
        self.assertEqual(len(self.received()), 2)
        self.assertEqual(WebhookDelivery.objects.count(), 2)

    def test_an_event_whose_connection_is_lost_during_the_publish_goes_again(self):
        make_order(status="processing")
        forwarder, url = self.broker.forwarded()
        self.addCleanup(forwarder.close)
        publisher = EventPublisher(url)
        forwarder.cut_on_next_send()
        self.relay_fails(publisher)
        self.relay_again()
        # Copies of the lost attempt may be there too, under the same ids.
        ids = [m.properties["message_id"] for m in self.received()]
        self.assertEqual(
            set(ids), {str(pk) for pk in Event.objects.values_list("pk", flat=True)}
        )


@needs_rabbitmq_and_postgresql
class RelayInTheWorkerTests(OrderEventsQueue, TransactionTestCase):
    """``celery -A idem_project worker`` alone publishes events and delivers webhooks."""

    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)

    def test_a_worker_without_relay_events_publishes_and_delivers(self):
        WebhookEndpoint.objects.create(url=self.receiver.url, events=["*"])
        worker = CeleryWorker(self.broker.url, env=FAST_ENV)
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        order = make_order(status="processing")
        messages = []

        def published():
            messages.extend(json.loads(m.body) for m in self.received())
            return len(messages) >= 2

        wait_for(published, 60, f"the order's events on the broker\n{worker.output()}")
        self.assertEqual(
            [(m["data"]["id"], m["sequence"], m["type"]) for m in messages],
            [(order.pk, 1, "order.created"), (order.pk, 2, "order.processing")],
        )
        wait_for(
            lambda: len(self.receiver.delivered()) == 2,
            60,
            f"two webhook deliveries\n{worker.output()}",
        )
        self.assertEqual([e["sequence"] for e in self.receiver.delivered()], [1, 2])
        self.assertTrue(
            all(d.state == "delivered" for d in WebhookDelivery.objects.all())
        )
        worker.process.send_signal(signal.SIGTERM)
        worker.process.wait(timeout=30)
        output = worker.output(tail=100_000)
        self.assertIn("Events relay started", output)
        self.assertIn("Events relay stopped.", output)
        self.assertNotIn("ERROR", output)
