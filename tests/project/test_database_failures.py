"""A database that is down, restarting, out of connections or locked answers 503 in JSON."""

import json
import unittest
import urllib.error
import urllib.request
from uuid import uuid4

import psycopg
from django.db import OperationalError, connection
from django.test import Client, SimpleTestCase, TransactionTestCase
from rest_framework.authtoken.models import Token

from accounts.models import User
from core.database import database_unavailable
from idempotency.models import IdempotencyKey
from orders.models import Order
from tests.concurrency import run_together
from tests.factories import make_user, token_client
from tests.servers import (
    SERVER_APPLICATION_NAME,
    Gunicorn,
    database_url,
    free_port,
    wait_for,
)

PASSWORD = "correct horse battery"

needs_postgresql = unittest.skipIf(
    connection.vendor != "postgresql",
    "needs PostgreSQL: LOCK TABLE, lock_timeout and pg_terminate_backend",
)


def send(url, *, method="GET", body=None, headers=None, timeout=30):
    """Return (status, headers, body) of one HTTP request, errors included."""
    request = urllib.request.Request(  # noqa: S310  a local http URL
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class UnavailableAssertions:
    def assert_unavailable(self, status, headers, body):
        self.assertEqual(status, 503, body)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(headers["Retry-After"], "5")
        self.assertEqual(json.loads(body)["code"], "service_unavailable")


class LockedTable:
    """``LOCK TABLE`` held by another connection until the block ends."""

    def __init__(self, table):
        self.table = table

    def __enter__(self):
        self.holder = psycopg.connect(database_url())
        self.holder.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc_info):
        self.holder.rollback()
        self.holder.close()


@needs_postgresql
class LockTimeoutTests(UnavailableAssertions, TransactionTestCase):
    """In process: a lock wait cut short answers 503 and releases the claimed key."""

    def setUp(self):
        with connection.cursor() as cursor:
            # The configured DATABASE_STATEMENT_TIMEOUT is what gunicorn tests
            # below check; here a short one keeps the test quick.
            cursor.execute("SET lock_timeout = '300ms'")
        self.addCleanup(connection.close)

    def test_a_keyed_create_behind_a_lock_is_503_and_its_retry_creates_it(self):
        client = token_client(make_user())
        body = {"client_id": str(uuid4()), "product_id": 7, "quantity": 1}
        with LockedTable("orders_order"):
            response = client.post(
                "/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-locked"
            )
        self.assert_unavailable(response.status_code, response, response.content)
        self.assertFalse(IdempotencyKey.objects.exists())
        self.assertFalse(Order.objects.exists())
        retry = client.post(
            "/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-locked"
        )
        self.assertEqual(retry.status_code, 201, retry.content)
        self.assertEqual(Order.objects.count(), 1)

    def test_a_sign_up_behind_a_lock_is_503_and_writes_nothing(self):
        body = {"email": "lock@example.com", "name": "L", "password": PASSWORD}
        with LockedTable("accounts_user"):
            response = self.client.post(
                "/api/users/",
                body,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="signup-locked",
            )
        self.assert_unavailable(response.status_code, response, response.content)
        self.assertFalse(User.objects.exists())
        self.assertFalse(IdempotencyKey.objects.exists())

    def test_a_django_view_behind_a_lock_answers_the_json_503_too(self):
        make_user(email="admin@example.com", password=PASSWORD, is_staff=True)
        client = Client(raise_request_exception=False)
        with LockedTable("accounts_user"):
            response = client.post(
                "/admin/login/", {"username": "admin@example.com", "password": PASSWORD}
            )
        self.assert_unavailable(response.status_code, response, response.content)


class OtherDatabaseErrorTests(TransactionTestCase):
    def test_an_operational_error_that_is_a_bug_stays_one(self):
        # A state error on PostgreSQL, a missing table on SQLite: both are
        # OperationalErrors that no retry cures.
        with self.assertRaises(OperationalError) as caught, connection.cursor() as c:
            if connection.vendor == "postgresql":
                c.execute("CREATE TEMPORARY SEQUENCE never_used")
                c.execute("SELECT currval('never_used')")
            else:
                c.execute("SELECT * FROM no_such_table")
        self.assertFalse(database_unavailable(caught.exception))


@needs_postgresql
class GunicornDatabaseFailureTests(UnavailableAssertions, TransactionTestCase):
    """Through gunicorn with its configured statement timeout and pool."""

    def setUp(self):
        self.server = Gunicorn(workers=2, env={"DATABASE_STATEMENT_TIMEOUT": "1"})
        self.addCleanup(self.server.stop)
        self.server.wait_until_ready()
        user = make_user()
        self.headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}

    def terminate_the_servers_backends(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [SERVER_APPLICATION_NAME],
            )
            return cursor.fetchone()[0]

    def test_after_a_restart_the_next_requests_succeed(self):
        url = self.server.url("/api/orders/")
        for _ in range(8):  # both workers hold a pooled connection
            self.assertEqual(send(url, headers=self.headers)[0], 200)
        self.assertGreaterEqual(self.terminate_the_servers_backends(), 1)
        for _ in range(8):
            status, _, body = send(url, headers=self.headers)
            self.assertEqual(status, 200, body)

    def test_each_sync_worker_holds_one_connection(self):
        url = self.server.url("/api/orders/")
        outcomes = run_together(
            lambda: [send(url, headers=self.headers)[0] for _ in range(4)], threads=8
        )
        self.assertEqual(outcomes, [[200] * 4] * 8)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [SERVER_APPLICATION_NAME],
            )
            self.assertLessEqual(cursor.fetchone()[0], self.server.workers)

    def test_out_of_connections_is_503_and_the_next_request_after_succeeds(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                self.skipTest("a superuser ignores a database's connection limit")
        url = self.server.url("/api/orders/")
        name = connection.settings_dict["NAME"]
        with connection.cursor() as cursor:
            # This test's own connection is the one the database still allows.
            cursor.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT 1')
        self.addCleanup(self.lift_connection_limit, name)
        self.terminate_the_servers_backends()
        self.assert_unavailable(*send(url, headers=self.headers))
        self.lift_connection_limit(name)

        def served():
            # A pool whose connection attempt was refused retries after a
            # back-off; until it has reconnected, the answer is the JSON 503.
            status, headers, body = send(url, headers=self.headers)
            if status != 200:
                self.assert_unavailable(status, headers, body)
            return status == 200

        wait_for(served, timeout=15, what="a request served after the limit")

    def lift_connection_limit(self, name):
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1')

    def test_a_lock_held_past_the_statement_timeout_is_503_and_the_key_is_released(
        self,
    ):
        url = self.server.url("/api/orders/")
        body = {"client_id": "held", "product_id": 1, "quantity": 2}
        headers = {**self.headers, "Idempotency-Key": "held-key"}
        with LockedTable("orders_order"):
            outcome = send(url, method="POST", body=body, headers=headers)
        self.assert_unavailable(*outcome)
        self.assertFalse(IdempotencyKey.objects.exists())
        status, _, reply = send(url, method="POST", body=body, headers=headers)
        self.assertEqual(status, 201, reply)
        self.assertEqual(Order.objects.count(), 1)


class UnreachableDatabaseTests(UnavailableAssertions, SimpleTestCase):
    """gunicorn pointed at a port where no database listens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Gunicorn(
            workers=1,
            env={
                "DATABASE_URL": f"postgres://idem@127.0.0.1:{free_port()}/idem",
                "DATABASE_STATEMENT_TIMEOUT": "1",
            },
        )
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_until_ready()

    def test_the_api_root_needs_no_database(self):
        self.assertEqual(send(self.server.url("/api/"))[0], 200)

    def test_every_kind_of_endpoint_answers_503_in_json(self):
        body = {"email": "a@example.com", "name": "A", "password": PASSWORD}
        requests = {
            "a keyed sign-up (the key layer's transaction)": (
                "/api/users/",
                "POST",
                body,
                {"Idempotency-Key": "k1"},
            ),
            "a sign-up without key": ("/api/users/", "POST", body, {}),
            "the token endpoint": (
                "/api/auth/token/",
                "POST",
                {"email": "a@example.com", "password": PASSWORD},
                {},
            ),
            "a token-authenticated read": (
                "/api/orders/",
                "GET",
                None,
                {"Authorization": "Token " + "0" * 40},
            ),
            "a webhook": ("/api/webhooks/payments/", "POST", {"id": "e"}, {}),
            "the admin with a session": (
                "/admin/",
                "GET",
                None,
                {"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"},
            ),
        }
        for name, (path, method, data, headers) in requests.items():
            with self.subTest(name):
                outcome = send(
                    self.server.url(path), method=method, body=data, headers=headers
                )
                self.assert_unavailable(*outcome)
