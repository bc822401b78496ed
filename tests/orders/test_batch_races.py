import threading
from collections import Counter

from django.db import transaction
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent
from orders.services import ImportItem, orders_import
from tests.concurrency import needs_postgresql, run_together
from tests.factories import make_user

THREADS = 8
URL = "/api/orders/batch/"


def authed_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@needs_postgresql
class OrderBatchRaceTests(TransactionTestCase):
    def setUp(self):
        self.user = make_user()
        self.key = Token.objects.create(user=self.user).key

    def post_all(self, batches):
        """Post one batch a thread, released together; return (status, body) each."""
        remaining = iter(batches)
        lock = threading.Lock()

        def post():
            with lock:
                batch = next(remaining)
            response = authed_client(self.key).post(
                URL, {"orders": batch}, format="json"
            )
            return response.status_code, response.json()

        outcomes = run_together(post, threads=len(batches))
        self.assertEqual([o for o in outcomes if isinstance(o, BaseException)], [])
        self.assertEqual([status for status, _ in outcomes], [200] * len(batches))
        return [body["results"] for _, body in outcomes]

    def assert_each_order_created_once(self, results, client_ids):
        created = Counter(
            r["client_id"]
            for batch in results
            for r in batch
            if r["outcome"] == "created"
        )
        self.assertEqual(created, Counter(client_ids))
        self.assertEqual(
            sorted(Order.objects.values_list("client_id", flat=True)),
            sorted(client_ids),
        )
        self.assertEqual(
            Counter(OrderEvent.objects.values_list("order__client_id", flat=True)),
            Counter(client_ids),
        )
        ids = {(r["client_id"], r["id"]) for batch in results for r in batch}
        self.assertEqual(len(ids), len(client_ids))

    def test_concurrent_identical_batches_create_each_order_once(self):
        batch = [
            {"client_id": f"c-{n}", "product_id": 7, "quantity": 1} for n in range(200)
        ]
        results = self.post_all([batch] * THREADS)
        self.assert_each_order_created_once(results, [f"c-{n}" for n in range(200)])
        for outcomes in results:
            self.assertTrue({r["outcome"] for r in outcomes} <= {"created", "existing"})

    def test_concurrent_batches_in_opposite_orders_never_deadlock(self):
        """Batches sharing client ids in opposite orders wait in one order, not a cycle.

        The service is called directly: through HTTP, validation under the GIL
        spaces the threads' INSERTs too far apart to overlap reliably.
        """
        ids = [f"c-{n}" for n in range(1000)]
        items = [ImportItem(client_id=i, product_id=7, quantity=1) for i in ids]
        turns = iter(range(THREADS))
        lock = threading.Lock()

        def run():
            with lock:
                turn = next(turns)
            batch = items if turn % 2 else items[::-1]
            with transaction.atomic():
                return [
                    {"client_id": r.client_id, "id": r.id, "outcome": r.outcome}
                    for r in orders_import(owner=self.user, items=batch)
                ]

        results = run_together(run, threads=THREADS)
        self.assertEqual([o for o in results if isinstance(o, BaseException)], [])
        self.assert_each_order_created_once(results, ids)

    def test_batches_racing_single_creates_make_one_order_each(self):
        body = {"client_id": "c-0", "product_id": 7, "quantity": 1}
        batch = [{**body, "client_id": f"c-{n}"} for n in range(50)]
        halves = iter(["batch", "single"] * (THREADS // 2))
        lock = threading.Lock()

        def post():
            with lock:
                kind = next(halves)
            client = authed_client(self.key)
            if kind == "single":
                return kind, client.post(
                    "/api/orders/", body, format="json"
                ).status_code
            response = client.post(URL, {"orders": batch}, format="json")
            return kind, response.json()["results"][0]["outcome"]

        outcomes = run_together(post, threads=THREADS)
        self.assertEqual([o for o in outcomes if isinstance(o, BaseException)], [])
        firsts = Counter(outcomes)
        self.assertEqual(firsts[("single", 201)] + firsts[("batch", "created")], 1)
        self.assertEqual(Order.objects.count(), 50)
        self.assertEqual(OrderEvent.objects.count(), 50)
