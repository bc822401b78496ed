from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from outbox.models import OutboxMessage
from tests.factories import make_user
from tests.webhooks.deliveries import deliver, encode, make_order, payment_succeeded


class ReceiptTests(TestCase):
    def setUp(self):
        self.owner = make_user(email="buyer@example.com", name="Bea")
        self.client = APIClient()
        self.client.force_authenticate(self.owner)

    def complete(self, order):
        return self.client.post(f"/api/orders/{order.pk}/complete/")

    def test_completing_an_order_writes_one_receipt_naming_the_order(self):
        order = make_order(owner=self.owner, status="processing")
        for _ in range(3):
            with self.captureOnCommitCallbacks(execute=True):
                self.assertEqual(self.complete(order).status_code, 200)
        message = OutboxMessage.objects.get()
        self.assertEqual(message.topic, "mail.receipt")
        self.assertEqual(message.dedupe_key, f"receipt:{order.pk}")
        self.assertEqual(message.payload["to"], ["buyer@example.com"])
        self.assertIn(f"#{order.pk}", message.payload["subject"])

    def test_other_transitions_and_refused_completions_write_no_receipt(self):
        pending = make_order(owner=self.owner)
        self.client.post(f"/api/orders/{pending.pk}/process/")
        self.client.post(f"/api/orders/{pending.pk}/cancel/")
        self.assertEqual(self.complete(pending).status_code, 409)
        self.assertFalse(OutboxMessage.objects.exists())

    def test_payment_event_delivered_many_times_writes_one_receipt(self):
        order = make_order(owner=self.owner)
        body = encode(payment_succeeded(order.pk, event_id="evt_receipt"))
        for _ in range(3):
            with self.captureOnCommitCallbacks(execute=True):
                self.assertEqual(deliver(body).status_code, 200)
        message = OutboxMessage.objects.get()
        self.assertEqual(message.dedupe_key, f"receipt:{order.pk}")

    def test_the_receipt_adds_one_statement_to_a_completion(self):
        order = make_order(owner=self.owner, status="processing")
        with CaptureQueriesContext(connection) as queries:
            self.complete(order)
        statements = [q["sql"] for q in queries]
        outbox = [sql for sql in statements if "outbox_outboxmessage" in sql]
        self.assertEqual(len(outbox), 1, statements)
        self.assertTrue(outbox[0].startswith("INSERT"))
        # The owner's e-mail comes with the locked order, not in a statement of its own.
        owner_reads = [
            sql
            for sql in statements
            if "accounts_user" in sql and "orders_order" not in sql
        ]
        self.assertEqual(owner_reads, [])
