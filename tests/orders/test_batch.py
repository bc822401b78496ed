import unittest

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent
from orders.services import ImportItem, orders_import
from tests.factories import make_user, token_client

URL = "/api/orders/batch/"

skip_on_sqlite = unittest.skipIf(
    connection.vendor == "sqlite",
    "Django splits an INSERT on SQLite into chunks of 999 variables",
)


def item(client_id, product_id=7, quantity=1):
    return {"client_id": client_id, "product_id": product_id, "quantity": quantity}


def items(count, prefix="c"):
    return [item(f"{prefix}-{n}") for n in range(count)]


def outcomes(response):
    return [result["outcome"] for result in response.json()["results"]]


class OrderBatchTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def setUp(self):
        self.client = token_client(self.user)

    def post(self, orders, **extra):
        return self.client.post(URL, {"orders": orders}, format="json", **extra)

    def test_new_items_are_created_pending_with_their_creation_event(self):
        response = self.post([item("b"), item("a", quantity=2), item("c")])
        self.assertEqual(response.status_code, 200)
        results = response.json()["results"]
        self.assertEqual([r["client_id"] for r in results], ["b", "a", "c"])
        self.assertEqual(outcomes(response), ["created"] * 3)
        for result in results:
            with self.subTest(client_id=result["client_id"]):
                order = Order.objects.get(pk=result["id"])
                self.assertEqual(order.owner, self.user)
                self.assertEqual(order.client_id, result["client_id"])
                self.assertEqual(order.status, "pending")
                [event] = order.events.all()
                self.assertEqual(
                    (event.status, event.at), ("pending", order.created_at)
                )
        self.assertEqual(Order.objects.get(client_id="a").quantity, 2)

    def test_the_same_batch_again_creates_nothing_and_reports_existing(self):
        batch = items(5)
        first = self.post(batch).json()["results"]
        response = self.post(batch)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(outcomes(response), ["existing"] * 5)
        self.assertEqual(
            [r["id"] for r in response.json()["results"]], [r["id"] for r in first]
        )
        self.assertEqual(Order.objects.count(), 5)
        self.assertEqual(OrderEvent.objects.count(), 5)

    def test_an_order_with_another_product_or_quantity_is_a_mismatch_left_unchanged(
        self,
    ):
        order, _ = Order.objects.get_or_create_by_client_id(
            owner=self.user, client_id="a", product_id=7, quantity=1
        )
        response = self.post(
            [item("a", quantity=5), item("a", product_id=8), item("b")]
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(outcomes(response), ["mismatch", "mismatch", "created"])
        self.assertEqual(response.json()["results"][0]["id"], order.pk)
        order.refresh_from_db()
        self.assertEqual((order.product_id, order.quantity), (7, 1))
        self.assertEqual(order.events.count(), 1)

    def test_a_client_id_twice_that_agrees_counts_once(self):
        response = self.post([item("a"), item("b"), item("a")])
        self.assertEqual(outcomes(response), ["created", "created", "existing"])
        results = response.json()["results"]
        self.assertEqual(results[0]["id"], results[2]["id"])
        self.assertEqual(Order.objects.count(), 2)
        self.assertEqual(OrderEvent.objects.count(), 2)

    def test_a_client_id_twice_that_disagrees_is_a_mismatch_for_the_second(self):
        response = self.post([item("a", quantity=1), item("a", quantity=2)])
        self.assertEqual(outcomes(response), ["created", "mismatch"])
        self.assertEqual(Order.objects.get().quantity, 1)

    def test_single_creates_and_batches_share_the_client_id(self):
        single = self.client.post("/api/orders/", item("a"), format="json")
        self.assertEqual(single.status_code, 201)
        response = self.post([item("a"), item("b")])
        self.assertEqual(outcomes(response), ["existing", "created"])
        self.assertEqual(response.json()["results"][0]["id"], single.json()["id"])
        again = self.client.post("/api/orders/", item("b"), format="json")
        self.assertEqual(again.status_code, 200)
        self.assertEqual(
            again.json()["events"],
            [{"status": "pending", "at": again.json()["created_at"]}],
        )

    def test_another_users_client_id_is_another_order(self):
        other = make_user()
        Order.objects.get_or_create_by_client_id(
            owner=other, client_id="a", product_id=9, quantity=9
        )
        response = self.post([item("a")])
        self.assertEqual(outcomes(response), ["created"])
        self.assertEqual(
            Order.objects.get(pk=response.json()["results"][0]["id"]).owner, self.user
        )
        self.assertEqual(other.orders.get().quantity, 9)

    def test_invalid_items_are_400_with_errors_by_index_and_nothing_created(self):
        response = self.post(
            [
                item("a"),
                {"client_id": "b", "product_id": 0, "quantity": 1},
                item("c"),
                {"client_id": "", "product_id": 7},
                "not an object",
            ]
        )
        self.assertEqual(response.status_code, 400)
        errors = response.json()["orders"]
        self.assertEqual(set(errors), {"1", "3", "4"})
        self.assertEqual(list(errors["1"]), ["product_id"])
        self.assertEqual(set(errors["3"]), {"client_id", "quantity"})
        self.assertIn("non_field_errors", errors["4"])
        self.assertFalse(Order.objects.exists())

    def test_a_list_of_1000_items_is_accepted(self):
        response = self.post(items(1000))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(outcomes(response), ["created"] * 1000)
        self.assertEqual(Order.objects.count(), 1000)
        self.assertEqual(OrderEvent.objects.count(), 1000)

    def test_an_empty_list_or_more_than_1000_items_is_400(self):
        for count in (0, 1001):
            with self.subTest(count=count):
                response = self.post(items(count))
                self.assertEqual(response.status_code, 400)
                self.assertEqual(list(response.json()), ["orders"])
        self.assertFalse(Order.objects.exists())

    def test_a_body_without_a_list_of_orders_is_400(self):
        for body in ({}, {"orders": None}, {"orders": "a"}, {"orders": {"0": {}}}, []):
            with self.subTest(body=body):
                response = self.client.post(URL, body, format="json")
                self.assertEqual(response.status_code, 400)
        self.assertFalse(Order.objects.exists())

    def test_a_body_other_than_json_is_415(self):
        response = self.client.post(URL, {"orders": "a"}, format="multipart")
        self.assertEqual(response.status_code, 415)
        self.assertEqual(response.json()["code"], "unsupported_media_type")

    def test_a_keyed_batch_is_replayed(self):
        first = self.post(items(3), HTTP_IDEMPOTENCY_KEY="batch-1")
        replay = self.post(items(3), HTTP_IDEMPOTENCY_KEY="batch-1")
        self.assertEqual(replay.status_code, 200)
        self.assertEqual(replay["Idempotent-Replayed"], "true")
        self.assertEqual(replay.json(), first.json())
        other = self.post(items(4), HTTP_IDEMPOTENCY_KEY="batch-1")
        self.assertEqual(other.status_code, 422)
        self.assertEqual(other.json()["code"], "idempotency_key_mismatch")
        self.assertEqual(Order.objects.count(), 3)

    def test_only_post_is_allowed(self):
        for method in ("get", "put", "patch", "delete"):
            with self.subTest(method=method):
                self.assertEqual(getattr(self.client, method)(URL).status_code, 405)

    def test_anonymous_is_401_with_www_authenticate(self):
        response = APIClient().post(URL, {"orders": items(1)}, format="json")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["WWW-Authenticate"], "Token")
        self.assertFalse(Order.objects.exists())


class OrderBatchStatementTests(TestCase):
    """A batch costs a few statements whatever its size."""

    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def statements(self, batch):
        client = token_client(self.user)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(URL, {"orders": batch}, format="json")
        self.assertEqual(response.status_code, 200)
        return len(queries)

    def test_a_batch_of_1000_costs_a_bounded_number_of_statements(self):
        # SQLite's 999 variables split a 1,000-row INSERT into chunks (the
        # events' nine columns into ten).
        self.assertLessEqual(self.statements(items(1000)), 32)

    @skip_on_sqlite
    def test_1000_items_cost_the_statements_of_10(self):
        small = self.statements(items(10, prefix="small"))
        self.assertEqual(self.statements(items(1000, prefix="large")), small)
        # Sent again: no creation event and no order.created event to insert.
        self.assertEqual(self.statements(items(1000, prefix="large")), small - 2)

    @skip_on_sqlite
    def test_the_service_runs_four_statements(self):
        batch = [
            ImportItem(client_id=f"c-{n}", product_id=7, quantity=1)
            for n in range(1000)
        ]
        # A savepoint and its release around the four and the SET LOCAL of
        # the plans (TestCase holds a transaction).
        with self.assertNumQueries(7):
            orders_import(owner=self.user, items=batch)
        # Sent again: nothing to create, so no events to insert.
        with self.assertNumQueries(5):
            orders_import(owner=self.user, items=batch)


class OrderImportServiceTests(TestCase):
    def test_an_empty_or_too_large_batch_is_a_value_error(self):
        user = make_user()
        for count in (0, 1001):
            with self.subTest(count=count), self.assertRaises(ValueError):
                orders_import(
                    owner=user,
                    items=[ImportItem(f"c-{n}", 7, 1) for n in range(count)],
                )
