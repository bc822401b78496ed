"""The contract on a real Citus cluster: distribution, races, replays, one shard per create.

Runs when CITUS_DATABASE_URL names a Citus coordinator (its ``postgres``
database, say). The tests never touch the databases there: they create a
database of their own, ``test_idem_citus_<pid>``, propagated to the workers
(``citus.enable_create_database_propagation``), with the citus extension on
every node and the nodes registered in it, migrate it and run
``citus_distribute`` as the project's user would, and drop it (``WITH
(FORCE)``: Citus keeps sessions open in it) at the end. The server under test
is gunicorn with four workers, started on that database.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

from tests.concurrency import run_together
from tests.consumers.events import publish
from tests.events.receiver import Receiver
from tests.servers import SERVER_WEBHOOK_SECRET, Gunicorn, wait_for
from tests.webhooks.deliveries import encode, payment_succeeded, signature
from tests.workers import Broker, CeleryWorker, needs_rabbitmq

CITUS_DATABASE_URL = os.environ.get("CITUS_DATABASE_URL", "")


def _psycopg():
    import psycopg

    return psycopg


class CitusDatabase:
    """A database of its own on the cluster, with Citus on every node."""

    def __init__(self, url, name):
        psycopg = _psycopg()
        self.params = psycopg.conninfo.conninfo_to_dict(url)
        self.name = name
        with self.connect() as conn:
            nodes = conn.execute(
                "SELECT nodename, nodeport, groupid FROM pg_dist_node"
                " WHERE noderole = 'primary' ORDER BY groupid"
            ).fetchall()
            conn.execute("SET citus.enable_create_database_propagation = on")
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        for host, port, _ in nodes:
            with self.connect(dbname=name, host=host, port=port) as conn:
                conn.execute("CREATE EXTENSION citus")
        with self.connect(dbname=name) as conn:
            for host, port, group in nodes:
                if group == 0:
                    conn.execute(
                        "SELECT citus_set_coordinator_host(%s, %s)", [host, port]
                    )
                else:
                    conn.execute("SELECT citus_add_node(%s, %s)", [host, port])

    def connect(self, **overrides):
        psycopg = _psycopg()
        params = {**self.params, **{k: str(v) for k, v in overrides.items()}}
        return psycopg.connect(
            psycopg.conninfo.make_conninfo(**params), autocommit=True
        )

    @property
    def url(self):
        p = self.params
        return (
            f"postgres://{p.get('user', '')}@{p.get('host', '127.0.0.1')}:"
            f"{p.get('port', '5432')}/{self.name}"
        )

    def query(self, sql, params=()):
        with self.connect(dbname=self.name) as conn:
            return conn.execute(sql, params).fetchall()

    def drop(self):
        with self.connect() as conn:
            conn.execute("SET citus.enable_create_database_propagation = on")
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def manage(url, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@unittest.skipUnless(
    CITUS_DATABASE_URL, "needs CITUS_DATABASE_URL naming a Citus coordinator"
)
class CitusTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db = CitusDatabase(CITUS_DATABASE_URL, f"test_idem_citus_{os.getpid()}")
        cls.addClassCleanup(cls.db.drop)
        cls.migrate = manage(cls.db.url, "migrate", "--noinput", "-v", "0")
        cls.first = manage(cls.db.url, "citus_distribute")
        cls.second = manage(cls.db.url, "citus_distribute")
        if cls.first.returncode != 0:
            raise AssertionError(cls.migrate.stderr + cls.first.stderr)
        cls.server = Gunicorn(workers=4, env={"DATABASE_URL": cls.db.url})
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_until_ready()
        cls.token = cls.sign_up()

    @classmethod
    def request(cls, path, body, *, token=None, key=None, headers=None):
        headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            headers["Authorization"] = f"Token {token}"
        if key:
            headers["Idempotency-Key"] = key
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  a local test server
            cls.server.url(path), data=data, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return (
                    response.status,
                    dict(response.headers),
                    json.loads(response.read()),
                )
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    @classmethod
    def sign_up(cls):
        email = f"{uuid.uuid4()}@example.com"
        password = "a long and unusual password 42"
        status, _, _ = cls.request(
            "/api/users/", {"email": email, "name": "Ada", "password": password}
        )
        if status != 201:
            raise AssertionError(f"sign-up answered {status}")
        _, _, body = cls.request(
            "/api/auth/token/", {"email": email, "password": password}
        )
        return body["token"]

    def race(self, path, body, key=None):
        results = run_together(
            lambda: self.request(path, body, token=self.token, key=key)
        )
        for result in results:
            self.assertNotIsInstance(result, BaseException)
        return sorted(status for status, _, _ in results)

    def report_of(self, module, **env):
        """Run ``python -m module`` on the Citus database; return the JSON it prints."""
        result = subprocess.run(
            [sys.executable, "-m", module],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DATABASE_URL": self.db.url, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def order_and_payment(self):
        """Create an order through the API; return it, a new event id and its payment."""
        _, _, order = self.request(
            "/api/orders/",
            {"client_id": str(uuid.uuid4()), "product_id": 1, "quantity": 1},
            token=self.token,
        )
        event_id = f"evt-{uuid.uuid4()}"
        body = encode(payment_succeeded(order["id"], event_id=event_id))
        return order, event_id, body

    def count(self, table, column, value):
        [(count,)] = self.db.query(
            f"SELECT count(*) FROM {table} WHERE {column} = %s",  # noqa: S608  test names
            [value],
        )
        return count

    def test_migrate_and_distribute_succeed_and_a_second_run_changes_nothing(self):
        self.assertEqual(self.migrate.returncode, 0, self.migrate.stderr)
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        self.assertIn("orders_order: distributed by owner_id", self.first.stdout)
        self.assertIn("accounts_user: a reference table", self.first.stdout)
        self.assertIn(
            "database: multi-shard modifications sequential by default",
            self.first.stdout,
        )
        self.assertIn(
            "database: already multi-shard modifications sequential",
            self.second.stdout,
        )
        self.assertEqual(self.second.returncode, 0, self.second.stderr)
        self.assertIn(
            "orders_order: already distributed by owner_id", self.second.stdout
        )
        self.assertTrue(self.second.stdout.rstrip().endswith("Nothing changed."))
        rows = dict(
            self.db.query(
                "SELECT table_name::text, colocation_id FROM citus_tables"
                " WHERE citus_table_type = 'distributed' AND distribution_column = 'owner_id'"
            )
        )
        for table in ("orders_order", "events_event", "events_webhookdelivery"):
            self.assertIn(table, rows)
        self.assertEqual(len(set(rows.values())), 1, rows)
        self.assertIn(
            ("events_webhookendpoint", "reference"),
            self.db.query(
                "SELECT table_name::text, citus_table_type::text FROM citus_tables"
            ),
        )

    def test_racing_keyed_creates_make_one_order_and_one_key_then_a_replay(self):
        key, client_id = str(uuid.uuid4()), str(uuid.uuid4())
        body = {"client_id": client_id, "product_id": 3, "quantity": 2}
        statuses = self.race("/api/orders/", body, key=key)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertLessEqual(set(statuses), {200, 201, 409})
        self.assertEqual(self.count("orders_order", "client_id", client_id), 1)
        self.assertEqual(self.count("idempotency_idempotencykey", "key", key), 1)
        status, headers, replayed = self.request(
            "/api/orders/", body, token=self.token, key=key
        )
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(replayed["client_id"], client_id)

    def test_racing_client_id_creates_make_one_order(self):
        client_id = str(uuid.uuid4())
        body = {"client_id": client_id, "product_id": 5, "quantity": 1}
        statuses = self.race("/api/orders/", body)
        self.assertEqual(statuses, [200] * 15 + [201])
        self.assertEqual(self.count("orders_order", "client_id", client_id), 1)
        self.assertEqual(
            self.count(
                "orders_orderevent o JOIN orders_order r ON r.owner_id = o.owner_id AND r.id = o.order_id",
                "r.client_id",
                client_id,
            ),
            1,
        )

    def test_racing_photo_creates_make_one_photo(self):
        filename = f"{uuid.uuid4()}.jpg"
        statuses = self.race("/api/photos/", {"filename": filename, "caption": "x"})
        self.assertEqual(statuses, [200] * 15 + [201])
        self.assertEqual(self.count("uploads_photo", "filename", filename), 1)

    def test_a_keyed_create_its_replay_and_a_client_id_create_each_touch_one_shard(
        self,
    ):
        report = self.report_of("tests.core.citus_paths")
        expected = {"keyed create": 201, "replay": 200, "client_id create": 201}
        for path, status in expected.items():
            with self.subTest(path=path):
                self.assertEqual(report[path]["status"], status)
                statements = report[path]["statements"]
                self.assertTrue(statements)
                for statement in statements:
                    self.assertEqual(statement["tasks"], [1], statement["sql"])

    def test_a_payment_event_completes_the_order_once_across_shards(self):
        order, event_id, body = self.order_and_payment()
        sig = {"X-Signature": signature(body, SERVER_WEBHOOK_SECRET)}
        statuses = [
            self.request("/api/webhooks/payments/", body, headers=sig)[0]
            for _ in range(2)
        ]
        self.assertEqual(statuses, [200, 200])
        [(status,)] = self.db.query(
            "SELECT status FROM orders_order WHERE client_id = %s",
            [order["client_id"]],
        )
        self.assertEqual(status, "completed")
        self.assertEqual(self.count("webhooks_webhookevent", "event_id", event_id), 1)
        receipt = f"receipt:{order['id']}"
        self.assertEqual(self.count("outbox_outboxmessage", "dedupe_key", receipt), 1)

    def test_the_purge_deletes_expired_keys_on_every_shard(self):
        self.db.query(
            "INSERT INTO idempotency_idempotencykey (owner_id, scope, key, method,"
            " path, fingerprint, state, response_body, content_type, location,"
            " created_at, expires_at) SELECT g, '', 'old', 'POST', '/', '', "
            " 'completed', '', '', '', now(), now() - interval '1 hour'"
            " FROM generate_series(1000000, 1000009) g RETURNING id"
        )
        purge = manage(self.db.url, "purge_idempotency_keys")
        self.assertEqual(purge.returncode, 0, purge.stderr)
        self.assertIn("Deleted 10 ", purge.stdout)
        self.assertEqual(self.count("idempotency_idempotencykey", "key", "old"), 0)

    def test_events_are_relayed_delivered_within_the_endpoint_cap_and_purged(self):
        report = self.report_of(
            "tests.core.citus_events",
            WEBHOOK_ALLOW_PRIVATE="1",
            CELERY_BROKER_URL="memory://",
        )
        self.assertEqual(
            report,
            {
                "dispatched": 2,
                "outcomes": ["delivered"] * 2,
                "admin": [200, 200],
                "received": 2,
                "purged": 2,
                "left": 0,
                "deleted": True,
            },
        )

    @needs_rabbitmq
    def test_a_worker_sends_the_mail_delivers_events_and_applies_queued_payments(self):
        broker = Broker()
        self.addCleanup(broker.delete)
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        mail = tempfile.TemporaryDirectory()
        self.addCleanup(mail.cleanup)
        endpoint = manage(
            self.db.url,
            "shell",
            "-c",
            "from events.models import WebhookEndpoint;"
            f" WebhookEndpoint.objects.create(url={receiver.url!r}, events=['*'])",
        )
        self.assertEqual(endpoint.returncode, 0, endpoint.stderr)

        def endpoint_delete():
            deleted = manage(
                self.db.url,
                "shell",
                "-c",
                "from events.models import WebhookEndpoint;"
                f" WebhookEndpoint.objects.filter(url={receiver.url!r}).delete()",
            )
            self.assertEqual(deleted.returncode, 0, deleted.stderr)

        self.addCleanup(endpoint_delete)
        worker = CeleryWorker(
            broker.url,
            concurrency=2,
            env={
                "DATABASE_URL": self.db.url,
                "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "EMAIL_FILE_PATH": mail.name,
                "WEBHOOK_ALLOW_PRIVATE": "1",
                "WEBHOOK_SECRET": SERVER_WEBHOOK_SECRET,
            },
        )
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        order, event_id, body = self.order_and_payment()
        with broker.connection() as conn:
            publish(
                conn,
                body,
                sig=signature(body, SERVER_WEBHOOK_SECRET),
                times=2,
            )
        receipt = f"receipt:{order['id']}"

        def done():
            sent = self.db.query(
                "SELECT count(*) FROM outbox_outboxmessage"
                " WHERE dedupe_key = %s AND state = 'done'",
                [receipt],
            )
            return sent == [(1,)] and any(
                e["type"] == "order.completed" and e["data"]["id"] == order["id"]
                for e in receiver.delivered()
            )

        wait_for(done, 60, f"the receipt and the event\n{worker.output()}")
        self.assertEqual(self.count("webhooks_webhookevent", "event_id", event_id), 1)
        types = [
            e["type"] for e in receiver.delivered() if e["data"]["id"] == order["id"]
        ]
        self.assertEqual(
            types, ["order.created", "order.processing", "order.completed"]
        )
        mails = "".join(path.read_text() for path in Path(mail.name).iterdir())
        self.assertEqual(mails.count(f"Subject: Your Idem order #{order['id']} "), 1)
