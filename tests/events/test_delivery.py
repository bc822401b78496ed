import json
import sys
import unittest
from datetime import timedelta

from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from core.clock import db_now
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.relay import endpoints_room
from events.services import delivery_attempt
from events.signatures import verify_signature
from tests.events.helpers import FAST, attempt_due, relay
from tests.events.receiver import Receiver
from tests.project.test_startup import run
from tests.servers import database_url, free_port, wait_for
from tests.webhooks.deliveries import make_order

# One run of the relay's hand-over, in a process of the project.
DISPATCH = """
import django
django.setup()
from events.relay import deliveries_dispatch
try:
    deliveries_dispatch()
except Exception as error:
    print(type(error).__name__)
"""


@override_settings(EVENTS=FAST)
class DeliveryTests(TransactionTestCase):
    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)
        self.endpoint = WebhookEndpoint.objects.create(
            url=self.receiver.url, events=["order.completed", "order.created"]
        )

    def test_an_event_is_posted_signed_with_its_id_as_both_keys(self):
        order = make_order(status="completed")
        relay()
        self.assertEqual(attempt_due(), ["delivered"])
        self.assertEqual(attempt_due(), ["delivered"])
        _, (headers, body) = self.receiver.requests
        event = Event.objects.get(type="order.completed")
        self.assertEqual(headers["Idem-Event-Id"], str(event.id))
        self.assertEqual(headers["Idempotency-Key"], str(event.id))
        self.assertTrue(
            verify_signature(body, headers["Idem-Signature"], self.endpoint.secret)
        )
        sent = json.loads(body)
        self.assertEqual(set(sent), {"id", "type", "created_at", "sequence", "data"})
        self.assertEqual((sent["type"], sent["sequence"]), ("order.completed", 3))
        self.assertEqual(sent["data"]["id"], order.pk)
        self.assertEqual(sent["data"]["status"], "completed")
        self.assertEqual(
            [e["status"] for e in sent["data"]["events"]],
            ["pending", "processing", "completed"],
        )
        created = json.loads(self.receiver.requests[0][1])
        self.assertEqual(created["data"]["status"], "pending")
        self.assertEqual(len(created["data"]["events"]), 1)
        delivery = WebhookDelivery.objects.get(event=event)
        self.assertEqual(
            (delivery.state, delivery.attempts, delivery.last_status),
            ("delivered", 1, 200),
        )
        self.assertIsNotNone(delivery.last_duration_ms)

    def test_only_enabled_endpoints_that_want_the_type_get_a_delivery(self):
        WebhookEndpoint.objects.create(url=self.receiver.url, events=["user.created"])
        WebhookEndpoint.objects.create(
            url=self.receiver.url, events=["*"], enabled=False
        )
        make_order(status="processing")
        relay()
        self.assertEqual(
            list(WebhookDelivery.objects.values_list("endpoint_id", "event__type")),
            [(self.endpoint.pk, "order.created")],
        )

    def test_any_answer_but_2xx_or_none_is_retried_with_its_error(self):
        for mode, error in (
            (500, "HTTP 500"),
            (302, "HTTP 302"),
            ("drop", "RemoteDisconnected"),
            ("hang", "no answer within 1 s"),
        ):
            with self.subTest(mode=mode):
                self.receiver.mode, self.receiver.hang_seconds = mode, 2.5
                WebhookDelivery.objects.all().delete()
                make_order()
                relay()
                self.assertEqual(attempt_due(), ["retried"])
                delivery = WebhookDelivery.objects.get()
                self.assertEqual(delivery.state, "pending")
                self.assertIn(error, delivery.last_error)
                self.assertNotIn(self.endpoint.secret, delivery.last_error)
                self.assertGreater(delivery.next_attempt_at, delivery.last_attempt_at)

    def test_a_failing_delivery_is_retried_until_the_window_ends_then_failed(self):
        self.receiver.mode = 500
        make_order()
        relay()
        self.assertEqual(attempt_due(), ["retried"])
        WebhookDelivery.objects.update(
            window_from=timezone.now() - timedelta(seconds=61),
            next_attempt_at=timezone.now(),
        )
        self.assertEqual(attempt_due(), ["failed"])
        delivery = WebhookDelivery.objects.get()
        self.assertEqual((delivery.state, delivery.attempts), ("failed", 2))

    def test_410_disables_the_endpoint(self):
        self.receiver.mode = 410
        make_order()
        make_order()
        relay()
        self.assertEqual(attempt_due(), ["disabled", "skipped"])
        self.endpoint.refresh_from_db()
        self.assertFalse(self.endpoint.enabled)
        self.assertEqual(attempt_due(), [])
        self.assertEqual(len(self.receiver.requests), 1)

    def test_a_later_event_waits_for_the_earlier_one_at_that_endpoint_only(self):
        other = Receiver()
        self.addCleanup(other.stop)
        WebhookEndpoint.objects.create(url=other.url, events=["*"])
        self.receiver.mode = 500
        order = make_order(status="completed")
        relay()
        failing = WebhookDelivery.objects.filter(endpoint=self.endpoint)
        for _ in range(3):
            attempt_due()
            # Its retry comes due within WEBHOOK_RETRY_MAX_INTERVAL.
            wait_for(lambda: failing.due().exists(), timeout=10, what="the retry due")
        # The other endpoint has all three in order; this one retries the first.
        self.assertEqual([e["sequence"] for e in other.events()], [1, 2, 3])
        self.assertEqual({e["sequence"] for e in self.receiver.events()}, {1})
        first = WebhookDelivery.objects.get(endpoint=self.endpoint, sequence=1)
        self.assertEqual(first.attempts, 3)
        self.assertEqual(
            WebhookDelivery.objects.filter(
                endpoint=self.endpoint, sequence=3, attempts=0
            ).count(),
            1,
        )
        self.receiver.mode = 200
        for _ in range(20):
            WebhookDelivery.objects.update(next_attempt_at=timezone.now())
            attempt_due()
            if self.receiver.events()[-1]["sequence"] == 3:
                break
        received = [(e["type"], e["data"]["id"]) for e in self.receiver.events()]
        self.assertEqual(
            list(dict.fromkeys(received)),
            [("order.created", order.pk), ("order.completed", order.pk)],
        )

    def test_a_finished_attempt_hands_its_slot_to_the_endpoint_s_next_delivery(self):
        first, second = make_order(), make_order()
        relay()
        deliveries = WebhookDelivery.objects.filter(endpoint=self.endpoint)
        this = deliveries.get(resource_id=first.pk)
        with self.settings(EVENTS={**FAST, "WEBHOOK_ENDPOINT_CONCURRENCY": 1}):
            self.assertEqual(delivery_attempt(delivery_id=this.pk), "delivered")
        # Another order's delivery, handed over without waiting for a relay.
        (handed,) = deliveries.filter(dispatched_at__isnull=False)
        self.assertEqual(handed.resource_id, second.pk)

    def test_an_endpoint_holding_its_most_attempts_defers_the_next_and_only_its_own(
        self,
    ):
        other = Receiver()
        self.addCleanup(other.stop)
        elsewhere = WebhookEndpoint.objects.create(url=other.url, events=["*"])
        for _ in range(2):
            make_order()
        relay()
        held, waiting = WebhookDelivery.objects.filter(endpoint=self.endpoint)
        now = timezone.now()
        WebhookDelivery.objects.filter(pk=held.pk).update(
            leased_until=now + timedelta(seconds=60)
        )
        with self.settings(EVENTS={**FAST, "WEBHOOK_ENDPOINT_CONCURRENCY": 1}):
            self.assertEqual(
                endpoints_room(handed_over_within=60), {self.endpoint.pk: 0}
            )
            WebhookDelivery.objects.filter(pk=waiting.pk).update(dispatched_at=now)
            self.assertEqual(delivery_attempt(delivery_id=waiting.pk), "deferred")
            self.assertEqual(self.receiver.requests, [])
            waiting.refresh_from_db()
            self.assertEqual((waiting.attempts, waiting.dispatched_at), (0, None))
            self.assertEqual(
                {
                    delivery_attempt(delivery_id=d.pk, dispatch_next=False)
                    for d in WebhookDelivery.objects.filter(endpoint=elsewhere)
                },
                {"delivered"},
            )
            WebhookDelivery.objects.filter(pk=held.pk).update(leased_until=None)
            self.assertEqual(
                delivery_attempt(delivery_id=waiting.pk, dispatch_next=False),
                "delivered",
            )
        self.assertEqual(len(other.requests), 2)

    def test_a_later_event_waits_while_an_earlier_one_is_unpublished(self):
        make_order(status="completed")
        relay()
        first = Event.objects.get(type="order.created")
        Event.objects.filter(pk=first.pk).update(published_at=None)
        WebhookDelivery.objects.filter(event=first).delete()
        self.assertEqual(attempt_due(), [])


@override_settings(EVENTS={**FAST, "WEBHOOK_ALLOW_PRIVATE": False})
class PrivateAddressTests(TransactionTestCase):
    def test_a_private_endpoint_is_never_called_at_delivery_time(self):
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        WebhookEndpoint.objects.create(url=receiver.url, events=["*"])
        make_order()
        relay()
        self.assertEqual(attempt_due(), ["retried"])
        self.assertEqual(receiver.requests, [])
        self.assertIn(
            "non-public address (127.0.0.1)", WebhookDelivery.objects.first().last_error
        )


@override_settings(EVENTS=FAST)
class HandOverRoomTests(TransactionTestCase):
    """A hand-over that will not be attempted gives its slot at the endpoint back."""

    def setUp(self):
        self.endpoint = WebhookEndpoint.objects.create(
            url="https://example.com/hook", events=["*"]
        )
        make_order()
        relay()
        self.delivery = WebhookDelivery.objects.get()

    def test_a_task_for_a_delivery_not_yet_due_is_skipped_and_frees_its_slot(self):
        WebhookDelivery.objects.update(
            dispatched_at=db_now(), next_attempt_at=db_now(plus=60)
        )
        self.assertEqual(endpoints_room(handed_over_within=60), {self.endpoint.pk: 1})
        self.assertEqual(delivery_attempt(delivery_id=self.delivery.pk), "skipped")
        self.assertEqual(endpoints_room(handed_over_within=60), {})
        self.delivery.refresh_from_db()
        self.assertIsNone(self.delivery.dispatched_at)

    @unittest.skipUnless(
        connection.vendor == "postgresql",
        "needs PostgreSQL: the relay's process shares the test database",
    )
    def test_a_hand_over_the_broker_refused_frees_its_slot(self):
        """The relay of a process whose broker refuses connections."""
        result = run(
            [sys.executable, "-c", DISPATCH],
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
            DJANGO_SETTINGS_MODULE="idem_project.settings",
        )
        self.assertEqual(result.stdout.split(), ["OperationalError"], result.stderr)
        self.delivery.refresh_from_db()
        self.assertIsNone(self.delivery.dispatched_at)
        self.assertEqual(endpoints_room(handed_over_within=60), {})


class NoTransactionTests(TransactionTestCase):
    def test_an_attempt_inside_a_transaction_is_refused(self):
        from django.db import transaction
        from django.db.transaction import TransactionManagementError

        from events.services import delivery_attempt

        with self.assertRaises(TransactionManagementError), transaction.atomic():
            delivery_attempt(delivery_id=1)
