import json
from collections import Counter

from django.test import TransactionTestCase

from events.models import WebhookDelivery, WebhookEndpoint
from orders.models import Order
from tests.consumers.events import needs_rabbitmq_and_postgresql
from tests.events.processes import FAST_ENV, Relay
from tests.events.receiver import Receiver
from tests.servers import wait_for
from tests.webhooks.deliveries import make_order
from tests.workers import Broker, CeleryWorker


@needs_rabbitmq_and_postgresql
class WebhookWorkerTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)

    def start(self, *, relays=1, concurrency=2, env=None):
        worker = CeleryWorker(
            self.broker.url, concurrency=concurrency, env={**FAST_ENV, **(env or {})}
        )
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        for _ in range(relays):
            relay = Relay(self.broker.url, env=env)
            self.addCleanup(relay.stop)
        return worker

    def receiver(self, **kwargs):
        receiver = Receiver(**kwargs)
        self.addCleanup(receiver.stop)
        return receiver

    def test_a_worker_killed_mid_delivery_is_retried_and_the_event_id_repeats_at_most_once(
        self,
    ):
        """The kill lands while the endpoint holds the request; the receiver then
        answers, so this is the documented window: at most a second POST with
        the same Idem-Event-Id, after the lease of the first attempt ends."""
        receiver = self.receiver(mode="hang", hang_seconds=1.5)
        WebhookEndpoint.objects.create(url=receiver.url, events=["order.created"])
        worker = self.start(concurrency=1)
        make_order()
        wait_for(lambda: receiver.started == 1, 60, "the first POST")
        worker.kill_pool()
        receiver.mode = 200
        wait_for(
            lambda: WebhookDelivery.objects.filter(state="delivered").exists(),
            90,
            f"the delivery retried\n{worker.output()}",
        )
        ids = [headers["Idem-Event-Id"] for headers, _ in receiver.requests]
        delivery = WebhookDelivery.objects.get()
        self.assertEqual(set(ids), {str(delivery.event_id)})
        self.assertLessEqual(len(ids), 2)
        self.assertEqual(delivery.attempts, 2)

    def test_three_endpoints_one_down_for_a_while_each_get_every_event_once_in_order(
        self,
    ):
        receivers = [self.receiver(), self.receiver(), self.receiver(mode=500)]
        for receiver in receivers:
            WebhookEndpoint.objects.create(url=receiver.url, events=["*"])
        self.start(relays=2)
        orders = [make_order() for _ in range(3)]
        for order in orders:
            Order.objects.transition(order.pk, to="processing")
        for order in orders[:2]:
            Order.objects.transition(order.pk, to="completed")
        Order.objects.transition(orders[2].pk, to="cancelled")
        wait_for(lambda: len(receivers[0].delivered()) == 9, 60, "the first endpoint")
        wait_for(lambda: receivers[2].statuses.count(500) >= 3, 60, "failures")
        receivers[2].mode = 200
        for receiver in receivers:
            wait_for(lambda r=receiver: len(r.delivered()) >= 9, 90, "every endpoint")
        wait_for(
            lambda: not WebhookDelivery.objects.pending().exists(), 30, "no pending"
        )
        for n, receiver in enumerate(receivers):
            with self.subTest(endpoint=n):
                events = receiver.delivered()
                self.assertEqual(len(events), 9)
                self.assertEqual(max(Counter(e["id"] for e in events).values()), 1)
                for order in orders:
                    self.assertEqual(
                        [e["sequence"] for e in events if e["data"]["id"] == order.pk],
                        [1, 2, 3],
                    )
        self.assertEqual(
            json.loads(receivers[0].requests[0][1])["type"], "order.created"
        )

    def test_a_slow_endpoint_holds_at_most_its_concurrency_and_delays_no_other(self):
        slow = self.receiver(mode="hang", hang_seconds=1.5)
        fast = self.receiver()
        for receiver in (slow, fast):
            WebhookEndpoint.objects.create(url=receiver.url, events=["*"])
        self.start(concurrency=3, env={"WEBHOOK_ENDPOINT_CONCURRENCY": "1"})
        for _ in range(6):
            make_order()
        wait_for(lambda: len(fast.delivered()) == 6, 30, "the fast endpoint")
        # Six 1.5 s answers one at a time: the slow endpoint is far from done.
        self.assertLess(len(slow.delivered()), 6)
        wait_for(lambda: len(slow.delivered()) == 6, 60, "the slow endpoint")
        self.assertEqual((slow.most_at_once, fast.most_at_once), (1, 1))
