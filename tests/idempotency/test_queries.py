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

    Counted with an execute wrapper, which sees every statement run through
    Django's cursors whether or not queries are logged.
    """

    def setUp(self):
        self.client = token_client(make_user())
        connection.ensure_connection()
        self.threshold = connection.connection.prepare_threshold

    def tearDown(self):
        connection.connection.prepare_threshold = self.threshold
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")

    def create(self, n, key=None):
        body = {"product_id": 1, "quantity": 1, "client_id": f"p-{n}"}
        headers = keyed(key) if key else {}
        return self.client.post("/api/orders/", body, format="json", headers=headers)

    def prepared(self):
        """Return {statement's first word: times run} for this connection."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT statement, generic_plans + custom_plans"
                " FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%idempotency_idempotencykey%"],
            )
            return {text.split()[0]: runs for text, runs in cursor.fetchall()}

    def test_the_claim_and_the_record_are_prepared_once_run_often_enough(self):
        self.assertIsNotNone(self.threshold, "settings turn preparing on")
        for n in range(self.threshold + 2):
            self.assertEqual(self.create(n, key=f"k-{n}").status_code, 201)
        # psycopg prepares a statement on its run after the threshold-th.
        self.assertEqual(self.prepared(), {"INSERT": 2, "UPDATE": 2})
        self.assertEqual(self.create(0, key="k-0").status_code, 200)
        self.assertEqual(self.prepared()["INSERT"], 3)

    def test_a_keyed_create_still_adds_two_statements(self):
        seen = []

        def count(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)

        for n in range(self.threshold + 1):
            self.create(100 + n, key=f"warm-{n}")
        with connection.execute_wrapper(count):
            self.assertEqual(self.create(1).status_code, 201)
            unkeyed = len(seen)
            self.assertEqual(self.create(2, key="counted").status_code, 201)
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
        connection.connection.prepare_threshold = None
        for n in range(self.threshold + 2):
            self.assertEqual(self.create(n, key=f"k-{n}").status_code, 201)
        self.assertEqual(self.create(0, key="k-0").status_code, 200)
        self.assertEqual(self.prepared(), {})
