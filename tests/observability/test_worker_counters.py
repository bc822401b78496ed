"""The worker's counters reach the web's /metrics with no configuration.

Web and worker share a VAR_DIR, as on one machine, and no
PROMETHEUS_MULTIPROC_DIR: by default both write under VAR_DIR/metrics.
"""

import json
import tempfile
import unittest
import urllib.error
import urllib.request
from uuid import uuid4

from django.db import connection
from django.test import TransactionTestCase

from tests.observability.helpers import sample_value
from tests.servers import Gunicorn, Uvicorn, wait_for
from tests.workers import CeleryWorker


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  loopback only
        return response.read().decode()


def sent_welcome_mails(text):
    labels = {"topic": "mail.welcome", "outcome": "sent"}
    return sample_value(text, "outbox_messages_total", **labels) or 0


def sign_up(url):
    body = {
        "email": f"{uuid4().hex}@example.com",
        "name": "Ada",
        "password": "correct horse battery",
    }
    request = urllib.request.Request(  # noqa: S310  loopback only
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status


@unittest.skipIf(
    connection.vendor != "postgresql",
    "needs PostgreSQL: the servers and the worker share the test database",
)
class WorkerCountersTests(TransactionTestCase):
    """A mail the worker sent is counted in the web's /metrics."""

    def check_the_worker_count_reaches_the_web(self, server_class):
        var_dir = self.enterContext(tempfile.TemporaryDirectory())
        env = {"VAR_DIR": var_dir, "CELERY_BROKER_URL": "filesystem://"}
        server = server_class(workers=2, env=env)
        self.addCleanup(server.stop)
        worker = CeleryWorker("filesystem://", env={"VAR_DIR": var_dir})
        self.addCleanup(worker.stop)
        server.wait_until_ready()
        worker.wait_until_ready()
        try:
            self.assertEqual(sent_welcome_mails(scrape(server.url("/metrics"))), 0)
            self.assertEqual(sign_up(server.url("/api/users/")), 201)
            wait_for(
                lambda: sent_welcome_mails(scrape(server.url("/metrics"))) == 1,
                timeout=60,
                what=f"the mail in /metrics\n{worker.output()}",
            )
        except urllib.error.HTTPError as exc:
            self.fail(f"{exc}\n{server.output()}")

    def test_under_gunicorn(self):
        self.check_the_worker_count_reaches_the_web(Gunicorn)

    def test_under_uvicorn(self):
        self.check_the_worker_count_reaches_the_web(Uvicorn)
