"""The layer across processes: gunicorn with 4 workers on PostgreSQL, killed mid-request."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction
from django.test import TransactionTestCase

from accounts.models import User
from idempotency.models import IdempotencyKey
from tests.concurrency import needs_postgresql, run_together

PASSWORD = "correct horse battery"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url():
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or "5432"
    return f"postgres://{credentials}@{host}:{port}/{quote(db['NAME'])}"


def children_of(pid):
    """Return the pids whose parent is ``pid`` (gunicorn's workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def wait_for(condition, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


class Gunicorn:
    """A gunicorn master with its workers, serving the project on a free port."""

    def __init__(self, workers=4):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  closed by stop()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DATABASE_POOL_SIZE": "2",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "idem_project.wsgi",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "2",
                "--timeout",
                "60",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        self.workers = workers

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_ready(self):
        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url("/api/"), timeout=2) as response:  # noqa: S310
                    return response.status == 200
            except OSError:
                return False

        wait_for(answers, what="gunicorn answering")
        wait_for(
            lambda: len(children_of(self.process.pid)) == self.workers,
            what="gunicorn workers",
        )

    def kill_workers(self):
        for pid in children_of(self.process.pid):
            os.kill(pid, signal.SIGKILL)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill_workers()
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-5000:]


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


@needs_postgresql
class GunicornTests(TransactionTestCase):
    def setUp(self):
        self.server = Gunicorn(workers=4)
        self.addCleanup(self.server.stop)
        self.server.wait_until_ready()

    def test_16_identical_keyed_sign_ups_across_4_workers_create_one_user(self):
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
