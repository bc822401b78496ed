"""The event relay as a process of its own, for tests."""

import os
import signal
import subprocess
import sys
import tempfile

from django.conf import settings

from tests.servers import database_url

#: The environment of relays and workers in these tests: private addresses
#: allowed, a short timeout and short retries.
FAST_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "1",
    "WEBHOOK_TIMEOUT": "2",
    "WEBHOOK_RETRY_MAX_INTERVAL": "1",
    "WEBHOOK_RETRY_WINDOW": "600",
}


class Relay:
    """``manage.py relay_events`` on the test database and the given broker."""

    def __init__(self, broker_url, env=None):
        self.log = tempfile.NamedTemporaryFile(suffix=".log")  # noqa: SIM115  closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "relay_events"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "DATABASE_POOL_SIZE": "1",
                "CELERY_BROKER_URL": broker_url,
                **FAST_ENV,
                **(env or {}),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def output(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as log:
            return log.read()[-8000:]
