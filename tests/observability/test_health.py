import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from django.test import SimpleTestCase, TestCase, override_settings
from rest_framework.test import APIClient

from observability.health import DEADLINE_SECONDS
from tests.servers import Gunicorn, free_port
from tests.workers import RABBITMQ_HOST, rabbitmq_answers

RABBITMQ = f"amqp://guest:guest@{RABBITMQ_HOST}//"


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# The database tests ask no broker: they pass whatever CELERY_BROKER_URL
# the environment names.
@override_settings(CELERY_BROKER_URL="")
class HealthTests(TestCase):
    def test_200_without_credentials_when_the_database_answers(self):
        response = APIClient().get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})
        self.assertIn("no-cache", response["Cache-Control"])

    @unittest.skipUnless(
        rabbitmq_answers(),
        f"needs RabbitMQ on {RABBITMQ_HOST}: the test asks a broker that answers",
    )
    @override_settings(CELERY_BROKER_URL=RABBITMQ)
    def test_200_when_the_configured_broker_answers(self):
        self.assertEqual(self.client.get("/healthz").status_code, 200)

    def test_503_within_the_deadline_when_the_configured_broker_does_not_answer(self):
        with override_settings(
            CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//"
        ):
            started = time.monotonic()
            response = self.client.get("/healthz")
            elapsed = time.monotonic() - started
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json(), {"status": "unavailable"})
        # Not a performance figure: the contract's bound on a hang.
        self.assertLess(elapsed, DEADLINE_SECONDS + 1)

    def test_only_get_and_head_are_allowed(self):
        self.assertEqual(self.client.post("/healthz").status_code, 405)
        self.assertEqual(self.client.head("/healthz").status_code, 200)


class HealthWithoutDatabaseTests(SimpleTestCase):
    """A server whose database does not answer says so within the deadline."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Gunicorn(
            workers=1,
            env={"DATABASE_URL": f"postgres://root@127.0.0.1:{free_port()}/nowhere"},
        )
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_until_ready()

    def test_503_within_the_deadline(self):
        for _ in range(3):
            started = time.monotonic()
            status, body = fetch(self.server.url("/healthz"))
            elapsed = time.monotonic() - started
            self.assertEqual((status, body), (503, b'{"status": "unavailable"}'))
            self.assertLess(elapsed, DEADLINE_SECONDS + 1)


class HealthOfAServerTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        folder = tempfile.TemporaryDirectory()
        cls.addClassCleanup(folder.cleanup)
        database = Path(folder.name) / "db.sqlite3"
        cls.server = Gunicorn(
            workers=1,
            env={
                "DATABASE_URL": f"sqlite:///{database}",
                "CELERY_BROKER_URL": "filesystem://",
            },
        )
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_until_ready()

    def test_200_when_the_database_answers(self):
        self.assertEqual(fetch(self.server.url("/healthz")), (200, b'{"status": "ok"}'))
