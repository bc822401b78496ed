from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import make_user, token_client
from tests.idempotency.helpers import TEST_URLS, keyed
from tests.statements import statements


def claim_statements():
    """Return the statements of a replay's claim on the test database."""
    return 1 if connection.vendor == "postgresql" else 2


class StatementCountTests(TransactionTestCase):
    """The key layer adds two statements to a first create; a replay costs three at most.

    On PostgreSQL the replay's claim and read of the stored reply are one
    statement, elsewhere two.

    Counted outside transaction control (BEGIN, COMMIT, savepoints), which is
    the same for a keyed and an unkeyed request: both run in one transaction.
    """

    def measure(self, send):
        with CaptureQueriesContext(connection) as queries:
            response = send()
        return response, queries.captured_queries

    def assert_costs(self, client, path, body, key_body=None):
        unkeyed, unkeyed_queries = self.measure(
            lambda: client.post(path, body, format="json")
        )
        keyed_body = key_body or body
        first, first_queries = self.measure(
            lambda: client.post(path, keyed_body, format="json", headers=keyed("q"))
        )
        replay, replay_queries = self.measure(
            lambda: client.post(path, keyed_body, format="json", headers=keyed("q"))
        )
        self.assertEqual((unkeyed.status_code, first.status_code), (201, 201))
        self.assertEqual(replay.status_code, 200)
        # The whole request, transaction control included, differs by exactly
        # the claim and the record.
        self.assertEqual(len(first_queries) - len(unkeyed_queries), 2)
        self.assertLessEqual(
            len(statements(first_queries)) - len(statements(unkeyed_queries)), 2
        )
        self.assertLessEqual(len(statements(replay_queries)), 3)
        return [
            len(statements(unkeyed_queries)),
            len(statements(first_queries)),
            len(statements(replay_queries)),
            len(replay_queries),
        ]

    @override_settings(ROOT_URLCONF=TEST_URLS)
    def test_token_authenticated_create(self):
        client = token_client(make_user())
        costs = self.assert_costs(client, "/api/private/", {"name": "q"})
        # Replay: the token lookup, then the claim's insert that does nothing
        # and its read of the stored reply.
        self.assertEqual(costs[2], 1 + claim_statements())

    def test_anonymous_sign_up(self):
        costs = self.assert_costs(
            APIClient(),
            "/api/users/",
            {"email": "a@example.com", "name": "A", "password": "correct horse"},
            {"email": "b@example.com", "name": "B", "password": "correct horse"},
        )
        self.assertEqual(costs[2], claim_statements())

    def test_order_create(self):
        client = token_client(make_user())
        self.assert_costs(
            client,
            "/api/orders/",
            {"product_id": 1, "quantity": 1, "client_id": "c-1"},
            {"product_id": 1, "quantity": 1, "client_id": "c-2"},
        )

    def test_replay_runs_no_view_query(self):
        client = token_client(make_user())
        body = {"product_id": 1, "quantity": 1, "client_id": "c-3"}
        client.post("/api/orders/", body, format="json", headers=keyed("r"))
        with CaptureQueriesContext(connection) as queries:
            client.post("/api/orders/", body, format="json", headers=keyed("r"))
        tables = " ".join(statements(queries.captured_queries))
        self.assertNotIn("orders_", tables)
        self.assertIn("authtoken_token", tables)
        self.assertIn("idempotency_idempotencykey", tables)


class PublicApiTests(TransactionTestCase):
    def test_the_layer_uses_no_backend_internals(self):
        """The statements run on Django's ordinary cursor, the same under DEBUG or not."""
        for path in (settings.BASE_DIR / "idempotency").rglob("*.py"):
            text = path.read_text("utf-8")
            with self.subTest(module=path.name):
                self.assertNotIn("django.db.backends", text)
                self.assertNotIn("queries_logged", text)
                self.assertNotIn("_cursor(", text)

    def test_a_keyed_create_is_logged_like_any_query(self):
        client = token_client(make_user())
        body = {"product_id": 1, "quantity": 1, "client_id": "logged"}
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/api/orders/", body, format="json", headers=keyed("logged")
            )
        self.assertEqual(response.status_code, 201)
        layer = [
            q["sql"].split()[0]
            for q in queries.captured_queries
            if "idempotency_idempotencykey" in (q["sql"] or "")
        ]
        claim = "WITH" if connection.vendor == "postgresql" else "INSERT"
        self.assertEqual(layer, [claim, "UPDATE"])
