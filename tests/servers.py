"""A real gunicorn serving the project, for tests that cross process boundaries."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection


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

    def __init__(self, workers=4, env=None):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  closed by stop()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DATABASE_POOL_SIZE": "2",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            **(env or {}),
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

        # Generous: several workers importing the project on a busy machine.
        wait_for(answers, timeout=60, what="gunicorn answering")
        wait_for(
            lambda: len(children_of(self.process.pid)) == self.workers,
            timeout=60,
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
