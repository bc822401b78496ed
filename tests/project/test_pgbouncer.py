"""The contract behind a real PgBouncer in transaction pooling mode.

The app runs in subprocesses (gunicorn, a Celery worker, a probe) whose
DATABASE_URL names PgBouncer, with DATABASE_TRANSACTION_POOLING=1; the test
checks the rows through its own direct connection.
"""

import json
import os
import re
import subprocess
import sys
import threading

from celery import current_app
from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token

from idempotency.models import IdempotencyKey
from orders.models import Order
from outbox.models import OutboxMessage
from tests.concurrency import run_together
from tests.consumers.events import publish
from tests.factories import make_user
from tests.outbox.smtp import SmtpServer
from tests.outbox.test_worker import sign_up
from tests.pgbouncer import PgBouncer, needs_pgbouncer
from tests.project.test_database_failures import (
    LockedTable,
    UnavailableAssertions,
    send,
)
from tests.servers import Gunicorn, Uvicorn, wait_for
from tests.webhooks.deliveries import history, make_order, payment_succeeded
from tests.workers import Broker, CeleryWorker, needs_rabbitmq
from webhooks.models import WebhookEvent

# Short, so the lock test is quick; long enough for 16 racing requests on a
# busy machine, where a duplicate's INSERT waits on the first one's row.
STATEMENT_TIMEOUT = "4"
DELIVERED = re.compile(r"outbox\.deliver\[[^\]]+\] succeeded")


def pooled_env(bouncer, **extra):
    """Return the environment of a process that reaches the database through ``bouncer``."""
    return {
        "DATABASE_URL": bouncer.url(),
        "DATABASE_TRANSACTION_POOLING": "1",
        "DATABASE_STATEMENT_TIMEOUT": STATEMENT_TIMEOUT,
        **extra,
    }


def backends_of_the_test_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid, state, query, wait_event_type FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchall()


@needs_pgbouncer
class PgBouncerHttpTests(UnavailableAssertions, TransactionTestCase):
    """gunicorn with 4 workers sharing 3 server connections through PgBouncer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bouncer = PgBouncer(pool_size=3)
        cls.addClassCleanup(cls.bouncer.stop)
        cls.server = Gunicorn(workers=4, env=pooled_env(cls.bouncer))
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_until_ready()

    def setUp(self):
        user = make_user()
        self.headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}

    def create(self, body, key=None, timeout=30):
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        return send(
            self.server.url("/api/orders/"),
            method="POST",
            body=body,
            headers=headers,
            timeout=timeout,
        )

    def assert_no_errors(self, outcomes):
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        self.assertEqual(errors, [], self.server.output())

    def test_16_racing_keyed_creates_make_one_order(self):
        body = {"client_id": "race-keyed", "product_id": 7, "quantity": 1}
        outcomes = run_together(lambda: self.create(body, key="race"), threads=16)
        self.assert_no_errors(outcomes)
        statuses = sorted(status for status, _, _ in outcomes)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertTrue(set(statuses) <= {200, 201, 409}, statuses)
        created = next(reply for status, _, reply in outcomes if status == 201)
        for status, headers, reply in outcomes:
            if status == 200:
                self.assertEqual(headers["Idempotent-Replayed"], "true")
                self.assertEqual(reply, created)
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(IdempotencyKey.objects.get().status_code, 201)
        # More clients than server connections: PgBouncer shared them.
        servers = [
            s
            for s in self.bouncer.show("SERVERS")
            if s["database"] == connection.settings_dict["NAME"]
        ]
        self.assertLessEqual(len(servers), 3)

    def test_16_racing_client_id_creates_make_one_order(self):
        body = {"client_id": "race-plain", "product_id": 7, "quantity": 1}
        outcomes = run_together(lambda: self.create(body), threads=16)
        self.assert_no_errors(outcomes)
        statuses = sorted(status for status, _, _ in outcomes)
        self.assertEqual(statuses, [200] * 15 + [201], self.server.output())
        self.assertEqual(Order.objects.count(), 1)

    def test_a_replay_answers_the_first_reply(self):
        body = {"client_id": "replayed", "product_id": 7, "quantity": 2}
        first = self.create(body, key="replay")
        self.assertEqual(first[0], 201, first[2])
        again = self.create(body, key="replay")
        self.assertEqual((again[0], again[2]), (200, first[2]))
        self.assertEqual(again[1]["Idempotent-Replayed"], "true")
        self.assertEqual(Order.objects.count(), 1)

    def test_a_duplicate_waits_for_the_first_request_in_flight_then_replays_it(self):
        """The first request holds its key while it waits on a locked table.

        The duplicate polls the key in a transaction of its own, on another
        server connection; once the lock goes, the first commits and the
        duplicate answers its reply within the in-flight wait.
        """
        body = {"client_id": "in-flight", "product_id": 7, "quantity": 1}
        replies = {}

        def post(name):
            replies[name] = self.create(body, key="in-flight")

        threads = {n: threading.Thread(target=post, args=[n]) for n in ("a", "b")}
        with LockedTable("orders_order"):
            threads["a"].start()
            wait_for(
                lambda: any(b[3] == "Lock" for b in backends_of_the_test_database()),
                what="the first request waiting on the lock",
            )
            threads["b"].start()
            wait_for(
                lambda: any(
                    "pg_try_advisory_xact_lock" in b[2] and b[3] != "Lock"
                    for b in backends_of_the_test_database()
                ),
                what="the duplicate polling the key",
            )
        for thread in threads.values():
            thread.join(timeout=30)
        self.assertEqual(replies["a"][0], 201, replies["a"][2])
        self.assertEqual(replies["b"][0], 200, replies["b"][2])
        self.assertEqual(replies["b"][1]["Idempotent-Replayed"], "true")
        self.assertEqual(replies["b"][2], replies["a"][2])
        self.assertEqual(Order.objects.count(), 1)

    def test_a_lock_held_past_the_timeout_is_503_and_the_key_is_released(self):
        body = {"client_id": "held", "product_id": 1, "quantity": 2}
        with LockedTable("orders_order"):
            outcome = self.create(body, key="held")
        self.assert_unavailable(*outcome)
        self.assertFalse(IdempotencyKey.objects.exists())
        status, _, reply = self.create(body, key="held")
        self.assertEqual(status, 201, reply)
        self.assertEqual(Order.objects.count(), 1)

    def test_after_pgbouncer_or_its_server_connections_restart_requests_succeed(self):
        url = self.server.url("/api/orders/")
        for _ in range(8):  # every worker holds a pooled client connection
            self.assertEqual(send(url, headers=self.headers)[0], 200)
        self.bouncer.stop(keep_files=True)
        self.bouncer.start()
        for _ in range(8):
            status, _, reply = send(url, headers=self.headers)
            self.assertEqual(status, 200, reply)
        # What a PostgreSQL restart does to PgBouncer's server connections;
        # only theirs: the test's own pooled connections stay alive.
        pids = [
            int(s["remote_pid"])
            for s in self.bouncer.show("SERVERS")
            if s["database"] == connection.settings_dict["NAME"]
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE pid = ANY(%s)",
                [pids],
            )
            self.assertGreaterEqual(cursor.fetchone()[0], 1)
        for _ in range(8):
            status, _, reply = send(url, headers=self.headers)
            self.assertEqual(status, 200, reply)


@needs_pgbouncer
class PgBouncerAsgiTests(TransactionTestCase):
    """uvicorn with 2 workers through PgBouncer."""

    def test_racing_keyed_creates_make_one_order_and_a_replay_replays_it(self):
        bouncer = PgBouncer(pool_size=3)
        self.addCleanup(bouncer.stop)
        server = Uvicorn(workers=2, env=pooled_env(bouncer))
        self.addCleanup(server.stop)
        server.wait_until_ready()
        token = Token.objects.create(user=make_user()).key
        headers = {"Authorization": f"Token {token}", "Idempotency-Key": "asgi"}
        body = {"client_id": "asgi", "product_id": 7, "quantity": 1}
        url = server.url("/api/orders/")
        outcomes = run_together(
            lambda: send(url, method="POST", body=body, headers=headers), threads=8
        )
        statuses = sorted(o[0] for o in outcomes)
        self.assertEqual(statuses.count(201), 1, server.output())
        self.assertTrue(set(statuses) <= {200, 201, 409}, statuses)
        again = send(url, method="POST", body=body, headers=headers)
        self.assertEqual(again[1]["Idempotent-Replayed"], "true")
        self.assertEqual(Order.objects.count(), 1)


PROBE = """
import json, time, django, psycopg
django.setup()
from django.db import OperationalError, connection, transaction

def show():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        return list(cursor.fetchone())

def sleep_fails():
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(5)")
    except OperationalError as exc:
        return [exc.__cause__.sqlstate, round(time.monotonic() - started, 1)]
    return None

found = {"autocommit": show()}
with transaction.atomic():
    found["transaction"] = show()
found["sleep_autocommit"] = sleep_fails()
with transaction.atomic():
    found["sleep_transaction"] = sleep_fails()
found["after"] = show()
params = connection.get_connection_params()
found["options"] = "options" in params
found["prepare_threshold"] = params["prepare_threshold"]
found["cursor"] = params["cursor_factory"].__name__
connection.close()
# The one server connection, seen by a client that sets nothing itself.
with psycopg.connect(URL, autocommit=True) as bare:
    found["bare"] = list(bare.execute(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
    ).fetchone())
print(json.dumps(found))
"""


@needs_pgbouncer
class SessionStateTests(TransactionTestCase):
    """Through PgBouncer with a single server connection that every client shares."""

    def test_timeouts_are_set_per_transaction_and_never_left_on_the_server(self):
        bouncer = PgBouncer(pool_size=1)
        self.addCleanup(bouncer.stop)
        env = {
            **pooled_env(bouncer, DATABASE_STATEMENT_TIMEOUT="0.5"),
            "DJANGO_SETTINGS_MODULE": "idem_project.settings",
        }
        probe = f"URL = {bouncer.url()!r}\n" + PROBE
        done = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=settings.BASE_DIR,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr + bouncer.output())
        found = json.loads(done.stdout.splitlines()[-1])
        for name in ("autocommit", "transaction", "after"):
            self.assertEqual(found[name], ["500ms", "500ms"], name)
        for name in ("sleep_autocommit", "sleep_transaction"):
            sqlstate, seconds = found[name]
            self.assertEqual(sqlstate, "57014", name)  # query_canceled
            self.assertLess(seconds, 4, name)
        self.assertFalse(found["options"])
        self.assertIsNone(found["prepare_threshold"])
        self.assertNotIn("ServerBinding", found["cursor"])
        self.assertEqual(found["bare"], ["0", "0"])


@needs_rabbitmq
@needs_pgbouncer
class PgBouncerWorkerTests(TransactionTestCase):
    """A real Celery worker and gunicorn, both through PgBouncer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bouncer = PgBouncer(pool_size=2)
        cls.addClassCleanup(cls.bouncer.stop)
        cls.broker = Broker()
        cls.addClassCleanup(cls.broker.delete)
        cls.smtp = SmtpServer().__enter__()
        cls.addClassCleanup(cls.smtp.__exit__)
        env = pooled_env(cls.bouncer, CELERY_BROKER_URL=cls.broker.url)
        cls.worker = CeleryWorker(cls.broker.url, env={**env, **cls.smtp.env()})
        cls.addClassCleanup(cls.worker.stop)
        cls.web = Gunicorn(workers=1, env=env)
        cls.addClassCleanup(cls.web.stop)
        cls.web.wait_until_ready()
        cls.worker.wait_until_ready()

    def deliveries_done(self):
        return len(DELIVERED.findall(self.worker.output(tail=10**7)))

    def test_a_sign_up_sends_one_mail_however_often_it_is_handed_over(self):
        accepted, delivered = len(self.smtp.accepted), self.deliveries_done()
        self.assertEqual(sign_up(self.web, "ada@example.com"), 201)
        key = OutboxMessage.objects.get().dedupe_key
        with self.broker.connection() as conn:
            for _ in range(3):
                current_app.send_task("outbox.deliver", args=[key], connection=conn)
        wait_for(
            lambda: self.deliveries_done() == delivered + 4,
            timeout=60,
            what=f"four hand-overs run\n{self.worker.output()}",
        )
        self.assertEqual(OutboxMessage.objects.get().state, "done")
        self.assertEqual(len(self.smtp.accepted), accepted + 1)

    def test_a_payment_event_published_twice_is_applied_once(self):
        order = make_order()
        with self.broker.connection() as conn:
            publish(conn, payment_succeeded(order.pk, event_id="evt_pooled"), times=2)

        def seen_twice():
            event = WebhookEvent.objects.filter(event_id="evt_pooled").first()
            return event is not None and event.redeliveries == 1

        wait_for(
            seen_twice, timeout=60, what=f"both deliveries\n{self.worker.output()}"
        )
        self.assertEqual(WebhookEvent.objects.get().outcome, "processed")
        order.refresh_from_db()
        self.assertEqual(history(order), ["pending", "processing", "completed"])
