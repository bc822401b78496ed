import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.test import TransactionTestCase
from prometheus_client import multiprocess
from rest_framework.authtoken.models import Token

from tests.concurrency import needs_postgresql, run_together
from tests.factories import make_user
from tests.observability.helpers import sample_value
from tests.servers import Gunicorn, children_of, wait_for

REQUESTS = 24


def scrape(server):
    with urllib.request.urlopen(server.url("/metrics"), timeout=10) as response:  # noqa: S310  loopback only
        return response.read().decode()


def created(text):
    return sample_value(text, "idempotency_requests_total", outcome="created") or 0


@needs_postgresql
class MetricsAcrossWorkersTests(TransactionTestCase):
    """/metrics sums what every gunicorn worker counted, dead ones included."""

    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.directory = Path(folder.name)
        self.earlier = self.earlier_process()
        self.server = Gunicorn(
            workers=4, env={"PROMETHEUS_MULTIPROC_DIR": str(self.directory)}
        )
        self.addCleanup(self.server.stop)
        self.server.wait_until_ready()
        self.token = Token.objects.create(user=make_user()).key

    def earlier_process(self):
        """Run a process that counts 5 creates and sets a live gauge, then ends."""
        code = (
            "from prometheus_client import Gauge\n"
            "from idempotency.metrics import REQUESTS\n"
            "REQUESTS.labels(outcome='created').inc(5)\n"
            "Gauge('earlier', 'x', multiprocess_mode='livesum').set(1)\n"
            "import os; print(os.getpid())\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={"PROMETHEUS_MULTIPROC_DIR": str(self.directory)},
            cwd=settings.BASE_DIR,
            capture_output=True,
            check=True,
            text=True,
            timeout=60,
        )
        return int(done.stdout)

    def post_orders(self):
        def post():
            body = json.dumps(
                {"client_id": str(uuid4()), "product_id": 7, "quantity": 1}
            ).encode()
            request = urllib.request.Request(  # noqa: S310  loopback only
                self.server.url("/api/orders/"),
                data=body,
                headers={
                    "Authorization": f"Token {self.token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": str(uuid4()),
                },
            )
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status

        return run_together(post, threads=REQUESTS)

    def per_worker(self):
        """Return each worker file's count of keyed creates, read apart from the others."""
        counts = {}
        for path in self.directory.glob("counter_*.db"):
            if path.name == f"counter_{self.earlier}.db":
                continue
            counts[path.name] = sum(
                sample.value
                for family in multiprocess.MultiProcessCollector.merge([str(path)])
                for sample in family.samples
                if sample.name == "idempotency_requests_total"
                and sample.labels == {"outcome": "created"}
            )
        return {name: count for name, count in counts.items() if count}

    def test_an_earlier_process_keeps_its_counts_and_loses_its_live_gauges(self):
        self.assertTrue((self.directory / f"counter_{self.earlier}.db").exists())
        self.assertFalse(list(self.directory.glob("gauge_live*")))
        self.assertEqual(created(scrape(self.server)), 5)

    def test_metrics_show_the_total_of_every_worker(self):
        before = created(scrape(self.server))
        self.assertEqual(self.post_orders(), [201] * REQUESTS)
        self.assertEqual(created(scrape(self.server)) - before, REQUESTS)
        workers = self.per_worker()
        self.assertEqual(sum(workers.values()), REQUESTS)
        self.assertGreater(len(workers), 1, workers)

    def test_the_counts_of_dead_workers_stay_in_the_total(self):
        before = created(scrape(self.server))
        self.assertEqual(self.post_orders(), [201] * REQUESTS)
        old = set(children_of(self.server.process.pid))
        self.server.kill_workers()
        wait_for(
            lambda: len(set(children_of(self.server.process.pid)) - old) == 4,
            what="four new workers",
        )
        self.server.wait_until_ready()
        self.assertEqual(created(scrape(self.server)) - before, REQUESTS)
