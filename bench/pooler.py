"""PgBouncer in transaction mode in front of the benchmark's database (``--pgbouncer``)."""

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from server import BenchError, Processes, free_port

MISSING = "pgbouncer is not installed (Debian: apt-get install pgbouncer)."
POOL_SIZE = 5


def start(processes: Processes, database_url: str, folder: Path) -> str:
    """Start PgBouncer for ``database_url``'s server; return the URL through it."""
    binary = shutil.which("pgbouncer") or shutil.which(
        "pgbouncer", path="/usr/sbin:/usr/local/sbin"
    )
    if binary is None:
        raise BenchError(MISSING)
    url = urlsplit(database_url)
    port = free_port()
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    users = folder / "users.txt"
    users.write_text(f'"{url.username}" ""\n')
    config = folder / "pgbouncer.ini"
    config.write_text(
        f"[databases]\n* = host={url.hostname} port={url.port or 5432}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n"
        f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\n"
        "max_client_conn = 500\n"
    )
    for path in (users, config):
        path.chmod(0o644)
    command = [binary, str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command[1:1] = ["-u", pwd.getpwnam("postgres").pw_name]
    with (folder / "pgbouncer.log").open("w") as log:
        processes.start(command, stdout=log, stderr=subprocess.STDOUT)
    through = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{port}"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(through, connect_timeout=2):
                return through
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise BenchError(f"PgBouncer did not answer; see {folder / 'pgbouncer.log'}")
