"""Webhook leases, retries and hand-overs run on the database's clock.

This host's clock (django.utils.timezone.now) is set a month apart from the
database's, which is never touched: workers on hosts whose clocks differ
still agree on who holds a delivery and when it is due.
"""

from datetime import timedelta

from django.db.models.functions import Now
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from events.models import WebhookDelivery, WebhookEndpoint
from events.services import delivery_attempt
from tests.events.helpers import FAST, relay
from tests.events.receiver import Receiver
from tests.idempotency.test_clock import host_clock
from tests.webhooks.deliveries import make_order

MONTH = timedelta(days=30)


@override_settings(EVENTS=FAST)
class DatabaseClockTests(TransactionTestCase):
    def setUp(self):
        self.receiver = Receiver(500)
        self.addCleanup(self.receiver.stop)
        WebhookEndpoint.objects.create(url=self.receiver.url, events=["*"])
        make_order()
        relay()
        self.delivery = WebhookDelivery.objects.get()

    def test_a_held_lease_holds_for_a_host_whose_clock_is_a_month_ahead(self):
        self.assertTrue(
            WebhookDelivery.objects.claim(self.delivery.pk, lease_seconds=60)
        )
        with host_clock(MONTH):
            self.assertFalse(
                WebhookDelivery.objects.claim(self.delivery.pk, lease_seconds=60)
            )
            self.assertEqual(delivery_attempt(delivery_id=self.delivery.pk), "skipped")
        self.assertEqual(self.receiver.requests, [])

    def test_a_due_delivery_is_attempted_by_a_host_whose_clock_is_a_month_behind(self):
        with host_clock(-MONTH):
            self.assertEqual(
                delivery_attempt(delivery_id=self.delivery.pk, dispatch_next=False),
                "retried",
            )
        self.delivery.refresh_from_db()
        # The retry is due a moment after the attempt, on the database's clock.
        self.assertLess(
            abs((self.delivery.next_attempt_at - timezone.now()).total_seconds()), 60
        )

    def test_the_retry_window_is_not_over_for_a_host_whose_clock_is_a_month_ahead(self):
        with host_clock(MONTH):
            self.assertEqual(
                delivery_attempt(delivery_id=self.delivery.pk, dispatch_next=False),
                "retried",
            )

    def test_a_fresh_hand_over_is_in_flight_for_a_host_whose_clock_is_a_month_ahead(
        self,
    ):
        WebhookDelivery.objects.update(dispatched_at=Now())
        with host_clock(MONTH):
            in_flight = WebhookDelivery.objects.in_flight(handed_over_within=60)
            self.assertEqual(list(in_flight), [self.delivery])
