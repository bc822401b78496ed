from django.test import TransactionTestCase
from rest_framework.test import APIClient

from orders.exceptions import InvalidTransition
from orders.models import Order
from tests.concurrency import needs_postgresql, run_together
from tests.webhooks.deliveries import (
    deliver,
    encode,
    history,
    make_order,
    payment_succeeded,
)
from webhooks.models import WebhookEvent


@needs_postgresql
class ConcurrentDeliveryTests(TransactionTestCase):
    def test_concurrent_deliveries_of_one_event_apply_it_once(self):
        """Sixteen deliveries at once: one inserts and processes, fifteen wait on the
        unique index, then find the row and apply nothing."""
        order = make_order()
        body = encode(payment_succeeded(order.pk, event_id="evt_race"))

        def post():
            response = deliver(body, client=APIClient())
            return response.status_code, response.json()

        results = run_together(post, threads=16)
        errors = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(errors, [])
        self.assertEqual([status for status, _ in results], [200] * 16)
        self.assertEqual(
            sorted(b["duplicate"] for _, b in results), [False] + [True] * 15
        )
        self.assertEqual({b["outcome"] for _, b in results}, {"processed"})
        self.assertEqual(WebhookEvent.objects.count(), 1)
        self.assertEqual(WebhookEvent.objects.get().redeliveries, 15)
        order.refresh_from_db()
        self.assertEqual(order.status, "completed")
        self.assertEqual(history(order), ["pending", "processing", "completed"])

    def test_concurrent_deliveries_of_two_events_for_one_order(self):
        """Two payment events for one order, each delivered eight times at once:
        two rows, one processes the order, the other finds it completed."""
        order = make_order()
        bodies = [
            encode(payment_succeeded(order.pk, event_id=f"evt_pair_{n}"))
            for n in (1, 2)
        ]
        turn = iter(bodies * 8)

        def post():
            response = deliver(next(turn), client=APIClient())
            return response.status_code, response.json()

        results = run_together(post, threads=16)
        errors = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(errors, [])
        self.assertEqual([status for status, _ in results], [200] * 16)
        firsts = sorted(b["outcome"] for _, b in results if not b["duplicate"])
        self.assertEqual(firsts, ["ignored", "processed"])
        self.assertEqual(
            sorted(WebhookEvent.objects.values_list("outcome", flat=True)),
            ["ignored", "processed"],
        )
        order.refresh_from_db()
        self.assertEqual(order.status, "completed")
        self.assertEqual(history(order), ["pending", "processing", "completed"])

    def test_payment_racing_a_cancel_leaves_one_consistent_history(self):
        """A payment and a cancel at once: whichever locks the order first wins. The
        payment holds the lock across both of its steps, so a cancel never lands
        between processing and completed."""
        order = make_order()
        body = encode(payment_succeeded(order.pk, event_id="evt_vs_cancel"))
        calls = iter(["pay"] * 8 + ["cancel"] * 8)

        def act():
            if next(calls) == "pay":
                return deliver(body, client=APIClient()).status_code
            try:
                Order.objects.transition(order.pk, to="cancelled")
            except InvalidTransition:
                return "refused"
            return "cancelled"

        results = run_together(act, threads=16)
        self.assertEqual([r for r in results if isinstance(r, BaseException)], [])
        self.assertEqual(results.count(200), 8)
        order.refresh_from_db()
        outcome = WebhookEvent.objects.get().outcome
        if order.status == "completed":
            self.assertEqual(outcome, "processed")
            self.assertEqual(history(order), ["pending", "processing", "completed"])
        else:
            self.assertEqual(order.status, "cancelled")
            self.assertEqual(outcome, "order_cancelled")
            self.assertEqual(history(order), ["pending", "cancelled"])
