"""The layer across processes: gunicorn and uvicorn workers on PostgreSQL, killed mid-request."""

import json
import threading
import urllib.error
import urllib.request

from django.db import connection, transaction
from django.test import TransactionTestCase

from accounts.models import User
from idempotency.models import IdempotencyKey
from tests.concurrency import needs_postgresql, run_together
from tests.servers import Gunicorn, Uvicorn, wait_for

PASSWORD = "correct horse battery"


def post(url, body, key, timeout=30):
    """POST JSON with an Idempotency-Key; return (status, headers, body)."""
    request = urllib.request.Request(  # noqa: S310  a local http URL
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class ServerTests:
    """The tests, for a server class and a number of workers set by each subclass."""

    server_class = Gunicorn
    workers = 4

    def setUp(self):
        self.server = self.server_class(workers=self.workers)
        self.addCleanup(self.server.stop)
        self.server.wait_until_ready()

    def test_16_identical_keyed_sign_ups_across_workers_create_one_user(self):
        body = {"email": "ada@example.com", "name": "Ada", "password": PASSWORD}
        url = self.server.url("/api/users/")
        outcomes = run_together(lambda: post(url, body, "gunicorn-race"), threads=16)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        self.assertEqual(errors, [], self.server.output())
        statuses = sorted(status for status, _, _ in outcomes)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertTrue(set(statuses) <= {200, 201, 409}, statuses)
        created = next(body for status, _, body in outcomes if status == 201)
        for status, headers, reply in outcomes:
            if status == 200:
                self.assertEqual(headers["Idempotent-Replayed"], "true")
                self.assertEqual(reply, created)
            if status == 409:
                self.assertEqual(headers["Retry-After"], "1")
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(IdempotencyKey.objects.get().status_code, 201)

    def test_a_worker_killed_mid_request_leaves_no_key_and_the_retry_succeeds(self):
        email = "kill@example.com"
        body = {"email": email, "name": "Kim", "password": PASSWORD}
        url = self.server.url("/api/users/")
        first = {}

        def send_first():
            try:
                first["outcome"] = post(url, body, "killed", timeout=30)
            except OSError as error:  # the worker died under the request
                first["outcome"] = error

        sender = threading.Thread(target=send_first)
        with transaction.atomic():
            # An uncommitted user with the same e-mail: the worker's INSERT waits
            # on the unique index, after its key was claimed.
            User.objects.create_user(email=email, password=PASSWORD)
            sender.start()
            self.addCleanup(sender.join)
            waiting = wait_for(self.backend_waiting_on_a_lock, what="a blocked worker")
            self.assertTrue(self.holds_an_advisory_lock(waiting))
            self.server.kill_workers()
            transaction.set_rollback(True)
        sender.join(timeout=30)
        self.assertIsInstance(first["outcome"], OSError)
        wait_for(lambda: not self.backend_exists(waiting), what="the dead backend gone")
        self.assertFalse(IdempotencyKey.objects.exists())
        self.assertFalse(User.objects.exists())

        self.server.wait_until_ready()
        status, headers, reply = post(url, body, "killed")
        self.assertEqual(status, 201, reply)
        self.assertNotIn("Idempotent-Replayed", headers)
        self.assertEqual(json.loads(reply)["email"], email)
        self.assertEqual(User.objects.filter(email=email).count(), 1)
        key = IdempotencyKey.objects.get()
        self.assertEqual(
            (key.key, key.state, key.status_code), ("killed", "completed", 201)
        )
        again = post(url, body, "killed")
        self.assertEqual((again[0], again[1]["Idempotent-Replayed"]), (200, "true"))

    def fetch_one(self, sql, params=()):
        with connection.cursor() as cursor:
            # Statistics views are snapshotted once per transaction otherwise.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(sql, params)
            return cursor.fetchone()

    def backend_waiting_on_a_lock(self):
        row = self.fetch_one(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return row and row[0]

    def holds_an_advisory_lock(self, pid):
        return (
            self.fetch_one(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'"
                " AND granted",
                [pid],
            )[0]
            == 1
        )

    def backend_exists(self, pid):
        return (
            self.fetch_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]
            )[0]
            > 0
        )


@needs_postgresql
class GunicornTests(ServerTests, TransactionTestCase):
    server_class = Gunicorn
    workers = 4


@needs_postgresql
class UvicornTests(ServerTests, TransactionTestCase):
    server_class = Uvicorn
    workers = 2
