import unittest

from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import make_user, token_client
from tests.idempotency.helpers import TEST_URLS, keyed

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def statements(queries):
    """Return the SQL statements, without transaction control."""
    return [q["sql"] for q in queries if not q["sql"].startswith(_TRANSACTION_CONTROL)]


class StatementCountTests(TransactionTestCase):
    """The key layer adds two statements to a first create; a replay costs three at most.

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
        self.assertEqual(costs[2], 3)

    def test_anonymous_sign_up(self):
        costs = self.assert_costs(
            APIClient(),
            "/api/users/",
            {"email": "a@example.com", "name": "A", "password": "correct horse"},
            {"email": "b@example.com", "name": "B", "password": "correct horse"},
        )
        self.assertEqual(costs[2], 2)

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


needs_postgresql = unittest.skipIf(
    connection.vendor != "postgresql",
    "needs PostgreSQL: prepared statements are psycopg's and PostgreSQL's",
)


@needs_postgresql
class PreparedStatementTests(TransactionTestCase):
    """Without a query log, the layer's two statements are bound on the server and prepared.

    pg_prepared_statements counts the runs of each statement prepared on the
    connection; the tests read how those counts move, since earlier tests may
    have prepared the statements already.
    """

    def setUp(self):
        self.client = token_client(make_user())
        connection.ensure_connection()
        self.threshold = connection.connection.prepare_threshold
        self.assertIsNotNone(self.threshold, "the project's settings turn it on")

    def tearDown(self):
        connection.connection.prepare_threshold = self.threshold

    def create(self, name):
        """Send a keyed create whose key and client_id are both ``name``."""
        body = {"product_id": 1, "quantity": 1, "client_id": name}
        return self.client.post(
            "/api/orders/", body, format="json", headers=keyed(name)
        )

    def warm_up(self, prefix="warm"):
        """Send enough keyed creates for psycopg to prepare both statements."""
        for n in range(self.threshold + 1):
            self.assertEqual(self.create(f"{prefix}-{n}").status_code, 201)

    def prepared_runs(self):
        """Return {first word of the layer's statement: runs} on this connection."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT statement, generic_plans + custom_plans"
                " FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%idempotency_idempotencykey%"],
            )
            return {text.split()[0]: runs for text, runs in cursor.fetchall()}

    def runs_added_by(self, send):
        """Return {first word: prepared runs added} for what ``send()`` ran."""
        before = self.prepared_runs()
        send()
        after = self.prepared_runs()
        added = {word: runs - before.get(word, 0) for word, runs in after.items()}
        return {word: runs for word, runs in added.items() if runs}

    def test_a_keyed_create_runs_the_prepared_claim_and_record(self):
        self.warm_up()
        added = self.runs_added_by(
            lambda: self.assertEqual(self.create("c-1").status_code, 201)
        )
        self.assertEqual(added, {"INSERT": 1, "UPDATE": 1})

    def test_a_replay_runs_the_prepared_claim_and_read(self):
        self.warm_up()
        for _ in range(self.threshold + 1):
            self.assertEqual(self.create("warm-0").status_code, 200)
        added = self.runs_added_by(
            lambda: self.assertEqual(self.create("warm-0").status_code, 200)
        )
        self.assertEqual(added, {"INSERT": 1, "SELECT": 1})

    def test_after_a_rollback_the_statements_are_prepared_again(self):
        self.warm_up()
        # A 400 rolls the transaction back; psycopg then deallocates what it
        # had prepared on the connection.
        bad = self.client.post(
            "/api/orders/", {"quantity": 0}, format="json", headers=keyed("bad")
        )
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(self.prepared_runs(), {})
        self.warm_up("again")
        added = self.runs_added_by(
            lambda: self.assertEqual(self.create("c-2").status_code, 201)
        )
        self.assertEqual(added, {"INSERT": 1, "UPDATE": 1})

    def test_a_keyed_create_still_adds_two_statements(self):
        seen = []

        def count(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)

        self.warm_up()
        with connection.execute_wrapper(count):
            unkeyed_body = {"product_id": 1, "quantity": 1, "client_id": "plain"}
            self.client.post("/api/orders/", unkeyed_body, format="json")
            unkeyed = len(seen)
            self.assertEqual(self.create("counted").status_code, 201)
        keyed_sql = seen[unkeyed:]
        self.assertEqual(len(keyed_sql) - unkeyed, 2)
        self.assertEqual(
            [
                sql.split()[0]
                for sql in keyed_sql
                if "idempotency_idempotencykey" in sql
            ],
            ["INSERT", "UPDATE"],
        )

    def test_without_preparing_keys_work_the_same(self):
        self.warm_up()
        connection.connection.prepare_threshold = None
        added = self.runs_added_by(
            lambda: [
                self.assertEqual(self.create("c-3").status_code, 201),
                self.assertEqual(self.create("warm-0").status_code, 200),
            ]
        )
        self.assertEqual(added, {})
