import io
import tempfile
import unittest

from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from rest_framework.test import APIClient

from accounts.models import User
from accounts.serializers import UserSerializer
from events.models import Event
from orders.models import Order
from orders.services import ImportItem, orders_import
from tests.factories import make_user, token_client
from tests.statements import statements_of
from tests.webhooks.deliveries import deliver, encode, make_order, payment_succeeded


def events_of(resource, resource_id):
    return list(
        Event.objects.filter(resource=resource, resource_id=resource_id)
        .order_by("sequence")
        .values_list("type", "sequence")
    )


class OrderEventTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def setUp(self):
        self.client = token_client(self.user)

    def create(self, client_id="c-1", headers=None):
        return self.client.post(
            "/api/orders/",
            {"client_id": client_id, "product_id": 7, "quantity": 1},
            format="json",
            headers=headers or {},
        )

    def test_a_create_records_order_created_once_across_retries_and_replays(self):
        order_id = self.create().json()["id"]
        self.assertEqual(self.create().status_code, 200)
        for _ in range(2):
            self.create("c-2", headers={"Idempotency-Key": "k-1"})
        event = Event.objects.get(resource="order", resource_id=order_id)
        self.assertEqual(
            (event.type, event.sequence, event.owner_id),
            ("order.created", 1, self.user.pk),
        )
        self.assertEqual(Event.objects.filter(resource="order").count(), 2)

    def test_a_batch_records_one_event_per_created_order(self):
        items = [
            ImportItem(client_id=f"b-{n}", product_id=7, quantity=1) for n in range(5)
        ]
        orders_import(owner=self.user, items=items)
        orders_import(owner=self.user, items=items)
        self.assertEqual(
            sorted(Event.objects.values_list("type", "sequence")),
            [("order.created", 1)] * 5,
        )

    def test_the_import_command_records_events_once(self):
        with tempfile.NamedTemporaryFile("w", suffix=".csv") as csv:
            csv.write("client_id,product_id,quantity\nx-1,7,1\nx-2,7,2\n")
            csv.flush()
            for _ in range(2):
                call_command(
                    "import_orders",
                    csv.name,
                    owner=self.user.email,
                    stdout=io.StringIO(),
                )
        self.assertEqual(Event.objects.filter(type="order.created").count(), 2)

    def test_a_payment_event_records_processing_and_completed_once(self):
        order = make_order(owner=self.user)
        body = encode(payment_succeeded(order.pk, event_id="evt-1"))
        self.assertEqual(deliver(body).status_code, 200)
        deliver(body)
        deliver(encode(payment_succeeded(order.pk, event_id="evt-2")))
        self.assertEqual(
            events_of("order", order.pk),
            [("order.created", 1), ("order.processing", 2), ("order.completed", 3)],
        )

    def test_the_sequence_counts_the_orders_history_on_every_path(self):
        for path in (
            ["cancelled"],
            ["processing", "cancelled"],
            ["processing", "completed"],
        ):
            with self.subTest(path=path):
                order = make_order(owner=self.user)
                for step in path:
                    Order.objects.transition(order.pk, to=step)
                    Order.objects.transition(order.pk, to=step)
                self.assertEqual(
                    events_of("order", order.pk),
                    [
                        (f"order.{status}", n)
                        for n, status in enumerate(["created", *path], start=1)
                    ],
                )
                self.assertEqual(order.events.count(), len(path) + 1)


class UserEventTests(TestCase):
    def test_a_sign_up_records_user_created_with_the_user_as_the_api_shows_it(self):
        body = {
            "email": "ada@example.com",
            "name": "Ada",
            "password": "correct horse",
            "client_id": "u-1",
        }
        APIClient().post("/api/users/", body, format="json")
        APIClient().post("/api/users/", body, format="json")
        user = User.objects.get()
        event = Event.objects.get()
        self.assertEqual(
            (event.type, event.sequence, event.owner_id), ("user.created", 1, user.pk)
        )
        self.assertEqual(event.data, UserSerializer(user).data)


class EventStatementTests(TestCase):
    """Each change gains one statement, its event's INSERT."""

    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def event_statements(self, call):
        sql = statements_of(call)
        return sql, [s for s in sql if "events_event" in s]

    def test_a_transition_adds_one_insert(self):
        order = make_order(owner=self.user)
        sql, events = self.event_statements(
            lambda: Order.objects.transition(order.pk, to="processing")
        )
        self.assertEqual(len(events), 1, sql)
        self.assertTrue(events[0].startswith("INSERT"))
        # The lock, the status, the history row and the event.
        self.assertEqual(
            [s.split()[0] for s in sql], ["SELECT", "UPDATE", "INSERT", "INSERT"]
        )

    def test_a_create_adds_one_insert(self):
        sql, events = self.event_statements(
            lambda: Order.objects.get_or_create_by_client_id(
                owner=self.user, client_id="s-1", product_id=7, quantity=1
            )
        )
        self.assertEqual(len(events), 1, sql)
        self.assertTrue(events[0].startswith("INSERT"))

    def test_a_sign_up_adds_one_insert(self):
        from accounts.services import user_sign_up

        sql, events = self.event_statements(
            lambda: user_sign_up(
                email="b@example.com", name="B", password="correct horse"
            )
        )
        self.assertEqual(len(events), 1, sql)

    @unittest.skipIf(
        connection.vendor == "sqlite",
        "SQLite splits a bulk INSERT by its 999 variables",
    )
    def test_a_batch_of_1000_adds_one_bulk_insert(self):
        items = [
            ImportItem(client_id=f"m-{n}", product_id=7, quantity=1)
            for n in range(1000)
        ]
        _, events = self.event_statements(
            lambda: orders_import(owner=self.user, items=items)
        )
        self.assertEqual(len(events), 1)
        self.assertEqual(Event.objects.count(), 1000)
