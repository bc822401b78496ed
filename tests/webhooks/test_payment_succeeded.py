from django.test import TestCase
from rest_framework.test import APIClient

from orders.models import Order
from tests.webhooks.deliveries import (
    URL,
    deliver,
    encode,
    history,
    make_order,
    payment_succeeded,
    signature,
)
from webhooks.models import WebhookEvent


class PaymentSucceededTests(TestCase):
    def deliver_event(self, event):
        response = deliver(encode(event))
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_first_delivery_completes_a_pending_order_through_processing(self):
        order = make_order()
        event = payment_succeeded(order.pk, event_id="evt_first")
        body = self.deliver_event(event)
        self.assertEqual(
            body,
            {
                "id": "evt_first",
                "type": "payment.succeeded",
                "outcome": "processed",
                "reason": f"Order {order.pk} completed.",
                "duplicate": False,
            },
        )
        order.refresh_from_db()
        self.assertEqual(order.status, "completed")
        self.assertEqual(history(order), ["pending", "processing", "completed"])
        stored = WebhookEvent.objects.get()
        self.assertEqual(stored.source, "webhook")
        self.assertEqual(
            (stored.event_id, stored.type, stored.payload, stored.outcome),
            ("evt_first", "payment.succeeded", event, "processed"),
        )
        self.assertEqual(stored.redeliveries, 0)

    def test_redelivery_is_200_and_applies_nothing(self):
        order = make_order()
        event = payment_succeeded(order.pk, event_id="evt_again")
        self.deliver_event(event)
        events_before = list(order.events.values_list("pk", flat=True))
        for attempt in (1, 2):
            with self.subTest(attempt=attempt):
                body = self.deliver_event(event)
                self.assertEqual(body["duplicate"], True)
                self.assertEqual(body["outcome"], "processed")
                self.assertEqual(
                    list(order.events.values_list("pk", flat=True)), events_before
                )
        self.assertEqual(WebhookEvent.objects.count(), 1)
        self.assertEqual(WebhookEvent.objects.get().redeliveries, 2)

    def test_redelivery_with_other_content_keeps_the_first(self):
        order = make_order()
        self.deliver_event({"id": "evt_x", "type": "something.else"})
        body = self.deliver_event(payment_succeeded(order.pk, event_id="evt_x"))
        self.assertEqual((body["duplicate"], body["outcome"]), (True, "unknown_type"))
        order.refresh_from_db()
        self.assertEqual(order.status, "pending")
        self.assertEqual(WebhookEvent.objects.get().type, "something.else")

    def test_processing_order_is_completed(self):
        order = make_order(status="processing")
        body = self.deliver_event(payment_succeeded(order.pk))
        self.assertEqual(body["outcome"], "processed")
        order.refresh_from_db()
        self.assertEqual(order.status, "completed")
        self.assertEqual(history(order), ["pending", "processing", "completed"])

    def test_completed_order_is_left_alone(self):
        order = make_order(status="completed")
        body = self.deliver_event(payment_succeeded(order.pk))
        self.assertEqual(body["outcome"], "ignored")
        self.assertIn("already completed", body["reason"])
        order.refresh_from_db()
        self.assertEqual(order.status, "completed")
        self.assertEqual(history(order), ["pending", "processing", "completed"])

    def test_cancelled_order_is_recorded_and_acknowledged_and_not_moved(self):
        for start in ("pending", "processing"):
            with self.subTest(cancelled_from=start):
                order = make_order(status=start)
                Order.objects.transition(order.pk, to="cancelled")
                expected = history(order)
                body = self.deliver_event(payment_succeeded(order.pk))
                self.assertEqual(body["outcome"], "order_cancelled")
                order.refresh_from_db()
                self.assertEqual(order.status, "cancelled")
                self.assertEqual(history(order), expected)

    def test_late_payment_after_cancel_never_moves_the_order_back(self):
        order = make_order()
        self.deliver_event(payment_succeeded(order.pk, event_id="evt_early"))
        with self.subTest("a second payment for a completed order"):
            body = self.deliver_event(payment_succeeded(order.pk, event_id="evt_late"))
            self.assertEqual(body["outcome"], "ignored")
            order.refresh_from_db()
            self.assertEqual(order.status, "completed")
            self.assertEqual(history(order), ["pending", "processing", "completed"])
        cancelled = make_order(status="cancelled")
        with self.subTest("a payment after the order was cancelled"):
            body = self.deliver_event(payment_succeeded(cancelled.pk))
            self.assertEqual(body["outcome"], "order_cancelled")
            cancelled.refresh_from_db()
            self.assertEqual(cancelled.status, "cancelled")
            self.assertEqual(history(cancelled), ["pending", "cancelled"])

    def test_unknown_or_invalid_order_id_is_recorded_as_order_not_found(self):
        order = make_order()
        cases = {
            "no such order": {"order_id": order.pk + 1000},
            "string": {"order_id": str(order.pk)},
            "float": {"order_id": float(order.pk)},
            "boolean": {"order_id": True},
            "zero": {"order_id": 0},
            "negative": {"order_id": -order.pk},
            "too large": {"order_id": 2**64},
            "null": {"order_id": None},
            "missing": {},
            "data is a list": [order.pk],
        }
        for name, data in cases.items():
            with self.subTest(name):
                event = {"id": f"evt_{name}", "type": "payment.succeeded", "data": data}
                body = self.deliver_event(event)
                self.assertEqual(body["outcome"], "order_not_found")
                self.assertEqual(
                    WebhookEvent.objects.get(event_id=f"evt_{name}").outcome,
                    "order_not_found",
                )
        with self.subTest("no data at all"):
            body = self.deliver_event({"id": "evt_nodata", "type": "payment.succeeded"})
            self.assertEqual(body["outcome"], "order_not_found")
        order.refresh_from_db()
        self.assertEqual(order.status, "pending")
        self.assertEqual(history(order), ["pending"])

    def test_unknown_type_is_recorded_and_acknowledged(self):
        order = make_order()
        event = {
            "id": "evt_refund",
            "type": "payment.refunded",
            "data": {"order_id": order.pk},
        }
        body = self.deliver_event(event)
        self.assertEqual(body["outcome"], "unknown_type")
        self.assertFalse(body["duplicate"])
        stored = WebhookEvent.objects.get()
        self.assertEqual((stored.type, stored.payload), ("payment.refunded", event))
        order.refresh_from_db()
        self.assertEqual(order.status, "pending")
        self.assertEqual(self.deliver_event(event)["duplicate"], True)

    def test_delivery_with_an_idempotency_key_is_processed_once(self):
        """The signature covers the raw body, so nothing in front of the view may
        consume the body stream before the view reads it."""
        order = make_order()
        body = encode(payment_succeeded(order.pk, event_id="evt_keyed"))
        headers = {"X-Signature": signature(body), "Idempotency-Key": "delivery-1"}
        for attempt in (1, 2):
            with self.subTest(attempt=attempt):
                response = APIClient().post(
                    URL, body, content_type="application/json", headers=headers
                )
                self.assertEqual(response.status_code, 200, response.content)
                self.assertEqual(response.json()["outcome"], "processed")
        self.assertEqual(WebhookEvent.objects.count(), 1)
        self.assertEqual(history(order), ["pending", "processing", "completed"])
