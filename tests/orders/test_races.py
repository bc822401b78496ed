import threading
from collections import Counter
from uuid import uuid4

from django.db import transaction
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.exceptions import ClientIdMismatch
from orders.models import Order, OrderEvent
from tests.concurrency import needs_postgresql, run_together
from tests.factories import make_user

THREADS = 16


def authed_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@needs_postgresql
class OrderCreateRaceTests(TransactionTestCase):
    def setUp(self):
        self.user = make_user()
        self.key = Token.objects.create(user=self.user).key

    def assert_no_exceptions(self, outcomes):
        errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        self.assertEqual(errors, [])

    def test_concurrent_identical_creates_make_one_order(self):
        body = {"client_id": str(uuid4()), "product_id": 7, "quantity": 1}

        def post():
            response = authed_client(self.key).post("/api/orders/", body, format="json")
            return response.status_code, response.json()

        outcomes = run_together(post, threads=THREADS)
        self.assert_no_exceptions(outcomes)
        statuses = sorted(status for status, _ in outcomes)
        self.assertEqual(statuses, [200] * (THREADS - 1) + [201])
        self.assertEqual(len({body["id"] for _, body in outcomes}), 1)
        order = Order.objects.get()
        self.assertEqual(
            list(order.events.values_list("status", flat=True)), ["pending"]
        )

    def test_concurrent_creates_with_two_payloads_make_one_order(self):
        """Whichever payload commits first owns the client_id; the other is 422."""
        client_id = str(uuid4())
        quantities = iter([1, 2] * (THREADS // 2))
        lock = threading.Lock()

        def post():
            with lock:
                quantity = next(quantities)
            body = {"client_id": client_id, "product_id": 7, "quantity": quantity}
            response = authed_client(self.key).post("/api/orders/", body, format="json")
            return quantity, response.status_code

        outcomes = run_together(post, threads=THREADS)
        self.assert_no_exceptions(outcomes)
        order = Order.objects.get()
        counts = Counter(outcomes)
        other = 2 if order.quantity == 1 else 1
        self.assertEqual(counts[(order.quantity, 201)], 1)
        self.assertEqual(counts[(order.quantity, 200)], THREADS // 2 - 1)
        self.assertEqual(counts[(other, 422)], THREADS // 2)
        self.assertEqual(OrderEvent.objects.count(), 1)

    def test_concurrent_upserts_inside_outer_transactions_make_one_order(self):
        """The idempotency layer wraps each request in atomic(); the savepoint still holds."""
        client_id = str(uuid4())

        def upsert():
            with transaction.atomic():
                _, created = Order.objects.get_or_create_by_client_id(
                    owner=self.user, client_id=client_id, product_id=7, quantity=1
                )
            return created

        outcomes = run_together(upsert, threads=THREADS)
        self.assert_no_exceptions(outcomes)
        self.assertEqual(sorted(outcomes), [False] * (THREADS - 1) + [True])
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(OrderEvent.objects.count(), 1)

    def test_concurrent_mismatching_upserts_raise_the_named_error(self):
        Order.objects.get_or_create_by_client_id(
            owner=self.user, client_id="c-1", product_id=7, quantity=1
        )

        def upsert():
            with transaction.atomic():
                return Order.objects.get_or_create_by_client_id(
                    owner=self.user, client_id="c-1", product_id=8, quantity=1
                )

        outcomes = run_together(upsert, threads=THREADS)
        self.assertTrue(
            all(isinstance(outcome, ClientIdMismatch) for outcome in outcomes)
        )
        self.assertEqual(Order.objects.get().product_id, 7)


@needs_postgresql
class OrderTransitionRaceTests(TransactionTestCase):
    def setUp(self):
        self.user = make_user()
        self.key = Token.objects.create(user=self.user).key
        self.order, _ = Order.objects.get_or_create_by_client_id(
            owner=self.user, client_id="c-1", product_id=7, quantity=1
        )

    def post(self, name):
        response = authed_client(self.key).post(f"/api/orders/{self.order.pk}/{name}/")
        return name, response.status_code, response.json()

    def history(self):
        return list(self.order.events.values_list("status", flat=True))

    def test_concurrent_process_calls_record_one_event(self):
        outcomes = run_together(lambda: self.post("process"), threads=THREADS)
        self.assertEqual([o for o in outcomes if isinstance(o, BaseException)], [])
        self.assertEqual([status for _, status, _ in outcomes], [200] * THREADS)
        self.assertTrue(all(body["status"] == "processing" for _, _, body in outcomes))
        self.assertEqual(self.history(), ["pending", "processing"])

    def post_in_turn(self, names):
        """Send one transition a thread, released together, in the order of ``names``."""
        remaining = iter(names)
        lock = threading.Lock()

        def post():
            with lock:
                name = next(remaining)
            return self.post(name)

        return run_together(post, threads=len(names))

    def test_concurrent_complete_and_cancel_have_exactly_one_winner(self):
        Order.objects.transition(self.order.pk, to="processing")
        outcomes = self.post_in_turn(["complete", "cancel"] * (THREADS // 2))
        self.assertEqual([o for o in outcomes if isinstance(o, BaseException)], [])
        self.order.refresh_from_db()
        winner = {"completed": "complete", "cancelled": "cancel"}[self.order.status]
        for name, status, body in outcomes:
            with self.subTest(name=name):
                if name == winner:
                    self.assertEqual(status, 200)
                    self.assertEqual(body["status"], self.order.status)
                else:
                    self.assertEqual(status, 409)
                    self.assertEqual(body["code"], "invalid_transition")
        self.assertEqual(self.history(), ["pending", "processing", self.order.status])

    def test_concurrent_transitions_of_every_kind_keep_a_valid_history(self):
        outcomes = self.post_in_turn(
            ["process", "complete", "cancel", "process"] * (THREADS // 4)
        )
        self.assertEqual([o for o in outcomes if isinstance(o, BaseException)], [])
        self.assertTrue(all(status in (200, 409) for _, status, _ in outcomes))
        history = self.history()
        self.assertIn(
            history,
            [
                ["pending", "processing"],
                ["pending", "processing", "completed"],
                ["pending", "processing", "cancelled"],
                ["pending", "cancelled"],
            ],
        )
        self.order.refresh_from_db()
        self.assertEqual(self.order.status, history[-1])
