"""Real servers (gunicorn, uvicorn) serving the project, for tests that cross processes."""

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

SERVER_SECRET_KEY = "test-server-secret-key-" + "x" * 40
SERVER_WEBHOOK_SECRET = "test-server-webhook-secret"
SERVER_APPLICATION_NAME = "idem-test-server"


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


def environment(values):
    """Return this process's environment for a child, with ``values`` on top.

    Without a ``PROMETHEUS_MULTIPROC_DIR`` of its own the child uses the one
    under its VAR_DIR, not the test process's.
    """
    inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return {**inherited, **values}


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
        # Its metrics directory and broker folder are its own (VAR_DIR).
        self.var_dir = tempfile.TemporaryDirectory()
        env = environment(
            {
                "VAR_DIR": self.var_dir.name,
                "DATABASE_URL": database_url(),
                "DATABASE_POOL_SIZE": "2",
                "DEBUG": "0",
                # DEBUG=0 refuses the development secrets.
                "SECRET_KEY": SERVER_SECRET_KEY,
                "WEBHOOK_SECRET": SERVER_WEBHOOK_SECRET,
                "SECURE_COOKIES": "0",
                # libpq names the server's connections, so a test can find them.
                "PGAPPNAME": SERVER_APPLICATION_NAME,
                "ALLOWED_HOSTS": "127.0.0.1",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                **(env or {}),
            }
        )
        self.process = subprocess.Popen(
            self.command(workers),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        self.workers = workers

    def command(self, workers):
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "idem_project.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            # The worker timeout comes from gunicorn.conf.py.
            "--graceful-timeout",
            "2",
        ]

    def worker_pids(self):
        return children_of(self.process.pid)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_ready(self):
        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url("/api/"), timeout=2) as response:  # noqa: S310
                    return response.status == 200
            except OSError:
                return False

        # Generous: on a busy machine four workers take a while to import Django.
        wait_for(answers, timeout=60, what="the server answering")
        wait_for(
            lambda: len(self.worker_pids()) == self.workers,
            timeout=60,
            what="the server's workers",
        )

    def kill_workers(self):
        for pid in self.worker_pids():
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
        self.var_dir.cleanup()

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-5000:]


def is_spawned_worker(pid):
    """Return whether ``pid`` runs a multiprocessing spawn child (uvicorn's workers)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Uvicorn(Gunicorn):
    """A uvicorn supervisor with its worker processes, serving the ASGI application."""

    def command(self, workers):
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "idem_project.asgi:application",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--timeout-graceful-shutdown",
            "2",
        ]

    def worker_pids(self):
        return [pid for pid in children_of(self.process.pid) if is_spawned_worker(pid)]
