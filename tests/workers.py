"""Real Celery workers and a RabbitMQ virtual host of their own, for tests.

Each ``Broker`` is a fresh virtual host on the local RabbitMQ, deleted at the
end, so test runs never see each other's messages. ``CeleryWorker`` runs
``celery -A idem_project worker`` as a subprocess against the test database.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import uuid
from urllib.parse import quote, urlsplit

import kombu
import kombu.exceptions
from django.conf import settings

from tests.forwarder import Forwarder
from tests.servers import children_of, database_url, environment, wait_for


def _rabbitmq_host():
    """Return the RabbitMQ that CELERY_BROKER_URL names, or the local one."""
    url = urlsplit(os.environ.get("CELERY_BROKER_URL", ""))
    if url.scheme in ("amqp", "pyamqp") and url.hostname:
        return f"{url.hostname}:{url.port or 5672}"
    return "127.0.0.1:5672"


RABBITMQ_HOST = _rabbitmq_host()


def rabbitmq_answers() -> bool:
    """Return whether RabbitMQ answers on the test host."""
    try:
        with kombu.Connection(f"amqp://guest:guest@{RABBITMQ_HOST}//") as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except (OSError, kombu.exceptions.OperationalError):
        return False
    return True


def rabbitmq_available() -> bool:
    """Return whether RabbitMQ answers on the test host and rabbitmqctl exists."""
    return shutil.which("rabbitmqctl") is not None and rabbitmq_answers()


needs_rabbitmq = unittest.skipUnless(
    rabbitmq_available(), f"needs RabbitMQ on {RABBITMQ_HOST} and rabbitmqctl"
)


def _rabbitmqctl(*args):
    subprocess.run(
        ["rabbitmqctl", "-q", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
    )


class Broker:
    """A RabbitMQ virtual host of this test's own, guest having every right on it."""

    def __init__(self):
        self.vhost = f"idem-test-{uuid.uuid4().hex[:12]}"
        _rabbitmqctl("add_vhost", self.vhost)
        _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        self.url = f"amqp://guest:guest@{RABBITMQ_HOST}/{quote(self.vhost, safe='')}"

    def connection(self):
        return kombu.Connection(self.url)

    def refuse_publishes(self, pattern):
        """Make the queues matching ``pattern`` full: RabbitMQ refuses (nacks) what comes."""
        full = '{"max-length": 0, "overflow": "reject-publish"}'
        _rabbitmqctl(
            "set_policy",
            "-p",
            self.vhost,
            "--apply-to",
            "queues",
            "full",
            pattern,
            full,
        )

    def accept_publishes(self):
        """Undo ``refuse_publishes``."""
        _rabbitmqctl("clear_policy", "-p", self.vhost, "full")

    def forwarded(self):
        """Return a Forwarder to this RabbitMQ and the URL of this vhost through it."""
        host, port = RABBITMQ_HOST.rsplit(":", 1)
        forwarder = Forwarder((host, int(port)))
        vhost = quote(self.vhost, safe="")
        return forwarder, f"amqp://guest:guest@127.0.0.1:{forwarder.port}/{vhost}"

    def delete(self):
        _rabbitmqctl("delete_vhost", self.vhost)


class CeleryWorker:
    """``celery -A idem_project worker`` with its pool, on the test database."""

    def __init__(
        self,
        broker_url,
        *,
        concurrency=1,
        env=None,
        beat=False,
        include=(),
        wrapper=(),
    ):
        """``wrapper`` runs the command inside another, such as ``ip netns exec NS``."""
        self.log = tempfile.NamedTemporaryFile(suffix=".log")  # noqa: SIM115  closed by stop()
        # The scheduler keeps its state under VAR_DIR: one of its own per worker.
        self.var_dir = tempfile.TemporaryDirectory()
        env = environment(
            {
                "VAR_DIR": self.var_dir.name,
                "DATABASE_URL": database_url(),
                "DATABASE_POOL_SIZE": "2",
                "CELERY_BROKER_URL": broker_url,
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                **(env or {}),
            }
        )
        command = [
            *wrapper,
            sys.executable,
            "-m",
            "celery",
            "-A",
            "idem_project",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ]
        if beat:
            command.append("--beat")
        if include:
            command += ["--include", ",".join(include)]
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.concurrency = concurrency

    def wait_until_ready(self, timeout=60.0):
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"celery worker exited:\n{self.output()}")
            return " ready." in self.output()

        wait_for(ready, timeout=timeout, what="celery worker ready")
        wait_for(
            lambda: len(self.pool_pids()) >= self.concurrency,
            timeout=timeout,
            what="celery pool processes",
        )
        return self

    def pool_pids(self):
        return children_of(self.process.pid)

    def kill_pool(self):
        """SIGKILL every pool process, as a machine losing them would."""
        for pid in self.pool_pids():
            os.kill(pid, signal.SIGKILL)

    def kill(self):
        """SIGKILL the pool and the main process, as a machine losing power would."""
        self.kill_pool()
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_pool()
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        self.var_dir.cleanup()

    def output(self, tail=8000):
        with open(self.log.name, encoding="utf-8", errors="replace") as log:
            return log.read()[-tail:]
