"""A real PgBouncer in transaction pooling mode in front of the test database."""

import os
import pwd
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.db import connection

from tests.servers import free_port, wait_for

PGBOUNCER = shutil.which("pgbouncer") or shutil.which(
    "pgbouncer", path="/usr/sbin:/usr/local/sbin"
)
# Small, so that a handful of web and worker processes share server connections.
POOL_SIZE = 5


def _skip_reason():
    if connection.vendor != "postgresql":
        return "needs PostgreSQL: PgBouncer pools PostgreSQL connections"
    if PGBOUNCER is None:
        return "needs pgbouncer (Debian: apt-get install pgbouncer)"
    return None


needs_pgbouncer = unittest.skipIf(_skip_reason() is not None, _skip_reason() or "")


def _run_as():
    """Return the user PgBouncer runs as: it refuses to run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name).pw_name
        except KeyError:
            continue
    return None


class PgBouncer:
    """``pgbouncer`` on a free loopback port, forwarding every database to PostgreSQL.

    Its configuration lives in a temporary directory of its own: transaction
    pooling, ``POOL_SIZE`` server connections per database and user, trust
    authentication for the test's own user (PostgreSQL trusts loopback).
    """

    def __init__(self, *, pool_size=POOL_SIZE, extra=""):
        db = connection.settings_dict
        self.user = db["USER"] or os.environ.get("USER", "postgres")
        self.server_host = db["HOST"] or "127.0.0.1"
        self.server_port = db["PORT"] or "5432"
        self.port = free_port()
        self.directory = tempfile.TemporaryDirectory(prefix="idem-pgbouncer-")
        folder = Path(self.directory.name)
        folder.chmod(0o755)
        users = folder / "users.txt"
        users.write_text(f'"{self.user}" ""\n')
        self.config = folder / "pgbouncer.ini"
        self.config.write_text(
            "[databases]\n"
            f"* = host={self.server_host} port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"admin_users = {self.user}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            f"{extra}"
        )
        for path in (users, self.config):
            path.chmod(0o644)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  closed by stop()
        self.process = None
        self.start()

    def start(self):
        """Start the process (again, after ``stop(keep_files=True)``) and wait for it."""
        command = [PGBOUNCER, str(self.config)]
        user = _run_as()
        if user:
            command[1:1] = ["-u", user]
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for(self.answers, timeout=20, what=f"pgbouncer answering\n{self.output()}")
        return self

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"pgbouncer exited:\n{self.output()}")
        try:
            with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def url(self, name=None):
        """Return a database URL of ``name`` (the test database) through PgBouncer."""
        name = name or connection.settings_dict["NAME"]
        return f"postgres://{quote(self.user)}@127.0.0.1:{self.port}/{quote(name)}"

    def admin_url(self):
        return self.url("pgbouncer")

    def show(self, what):
        """Return the rows of PgBouncer's ``SHOW what`` as dicts (POOLS, CLIENTS…)."""
        with psycopg.connect(self.admin_url(), autocommit=True) as admin:
            cursor = admin.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stop(self, *, keep_files=False):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not keep_files:
            self.log.close()
            self.directory.cleanup()

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-5000:]
