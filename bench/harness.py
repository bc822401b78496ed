"""What the benchmark runs on: its database, the gunicorn server, the API and wrk."""

import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"


class BenchError(RuntimeError):
    """The benchmark cannot go on: a step failed or a process misbehaved."""


class Processes:
    """Every child process the benchmark started, so that all of them can be stopped."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs: Any) -> subprocess.Popen:
        """Start ``args`` in a session of its own, so a Ctrl-C reaches only us."""
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        self._running.append(process)
        return process

    def stop(self, process: subprocess.Popen, *, grace: float = 15.0) -> None:
        """Stop one process: SIGTERM, then SIGKILL after ``grace`` seconds."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        """Stop every process still running, newest first."""
        for process in reversed(list(self._running)):
            self.stop(process)


# --- the database -------------------------------------------------------------------


@dataclass
class Database:
    """A PostgreSQL database of the benchmark's own, created afresh and dropped after."""

    server_url: str
    name: str
    created: bool = False

    @property
    def url(self) -> str:
        return f"{self.server_url.rstrip('/')}/{self.name}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(
            f"{self.server_url.rstrip('/')}/postgres", autocommit=True
        )

    def create(self) -> None:
        """Drop a leftover database of the same name, then create it empty."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.name)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
            )
        self.created = True

    def drop(self) -> None:
        """Drop the database, closing whatever connections are still open to it."""
        if not self.created:
            return
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.name)
                )
            )
        self.created = False

    def connect(self) -> psycopg.Connection:
        """Return an autocommit connection to the benchmark's database."""
        return psycopg.connect(self.url, autocommit=True)

    def scalar(self, query: str, params: tuple = ()) -> Any:
        """Run ``query`` and return the first column of its first row."""
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    def backend_pids(self) -> set[int]:
        """Return the pids of this database's backends and of the server's own."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() OR datname IS NULL"
            ).fetchall()
        return {row[0] for row in rows}

    def server_version(self) -> str:
        return str(self.scalar("SHOW server_version"))


# --- the server ---------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on the loopback interface that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def django_env(
    *, database_url: str, media_root: Path, secret_key: str
) -> dict[str, str]:
    """Return the environment the project runs with under the benchmark."""
    env = dict(os.environ)
    for name in ("DATABASE_TEST_NAME", "STATIC_ROOT"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="idem_project.settings",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media_root),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(args: list[str], *, env: dict[str, str], log: Path) -> str:
    """Run ``manage.py`` with ``args``; return its output, raise BenchError on failure."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    with log.open("a") as out:
        out.write(f"$ manage.py {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Server:
    """``gunicorn idem_project.wsgi`` with sync workers on a free loopback port."""

    processes: Processes
    env: dict[str, str]
    log_dir: Path
    workers: int = 4
    port: int = 0
    process: subprocess.Popen | None = None
    starts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, workers: int) -> None:
        """Start gunicorn and wait until every worker can answer."""
        self.workers = workers
        self.port = free_port()
        self.starts += 1
        log = (self.log_dir / f"gunicorn-{self.starts}-w{workers}.log").open("w")
        self.process = self.processes.start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "idem_project.wsgi",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--backlog",
                "2048",
                "--timeout",
                "120",
                "--graceful-timeout",
                "10",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"gunicorn exited with {self.process.returncode}; see {log.name}"
                )
            with contextlib.suppress(OSError):
                if call(self.port, "GET", "/api/").status == 200:
                    # Let every worker import the URLconf before anything is timed.
                    for _ in range(workers * 4):
                        call(self.port, "GET", "/api/")
                    return
            time.sleep(0.2)
        raise BenchError("gunicorn did not answer within 60 seconds")

    def stop(self) -> None:
        if self.process is not None:
            self.processes.stop(self.process)
            self.process = None


# --- the API ------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: Any


def call(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Send one request to the server and return its answer, JSON decoded."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = dict(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if token:
        sent["Authorization"] = f"Token {token}"
    try:
        conn.request(method, path, body=payload, headers=sent)
        answer = conn.getresponse()
        raw = answer.read()
        received = {name.lower(): value for name, value in answer.getheaders()}
    finally:
        conn.close()
    decoded: Any = raw
    if received.get("content-type", "").startswith("application/json"):
        decoded = json.loads(raw)
    return Reply(answer.status, received, decoded)


def expect(reply: Reply, status: int, what: str) -> Reply:
    """Return ``reply``, or raise BenchError when its status is not ``status``."""
    if reply.status != status:
        raise BenchError(
            f"{what}: expected {status}, got {reply.status}: {reply.body!r}"
        )
    return reply


@dataclass(frozen=True)
class Account:
    """A user made through the API, with its id, principal and token."""

    id: int
    email: str
    token: str

    @property
    def principal(self) -> str:
        return f"user:{self.id}"


def sign_up(port: int, *, email: str, password: str) -> Account:
    """Create a user with ``POST /api/users/`` and get its token from the API."""
    user = expect(
        call(
            port,
            "POST",
            "/api/users/",
            {"email": email, "name": "Bench", "password": password},
        ),
        201,
        "sign-up",
    ).body
    token = expect(
        call(port, "POST", "/api/auth/token/", {"email": email, "password": password}),
        200,
        "token",
    ).body["token"]
    return Account(id=user["id"], email=email, token=token)


# --- wrk ----------------------------------------------------------------------------


def ensure_wrk(log: Path) -> str:
    """Return the path of wrk, installing Debian's package with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it with apt-get (Debian's package)...")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    with log.open("a") as out:
        for args in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
            done = subprocess.run(
                [*sudo, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                check=False,
            )
            if done.returncode != 0:
                raise BenchError(f"{' '.join(args)} failed; see {log}")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed no wrk")
    return found


@dataclass
class Load:
    """One wrk run of a Lua script against the server."""

    script: str
    args: dict[str, str]
    connections: int
    threads: int
    seconds: float


def wrk_command(wrk: str, load: Load, url: str) -> list[str]:
    return [
        wrk,
        "--threads",
        str(load.threads),
        "--connections",
        str(load.connections),
        "--duration",
        f"{max(1, round(load.seconds))}s",
        "--timeout",
        "10s",
        "--script",
        str(BENCH_DIR / load.script),
        url,
        "--",
        *(f"{name}={value}" for name, value in load.args.items()),
    ]


def wrk_start(
    processes: Processes, wrk: str, load: Load, url: str, raw: Path
) -> subprocess.Popen:
    """Start wrk in the background; its output goes to ``raw``."""
    out = raw.open("w")
    out.write("$ " + " ".join(wrk_command(wrk, load, url)) + "\n")
    out.flush()
    process = processes.start(
        wrk_command(wrk, load, url),
        env={**os.environ, "BENCH_LUA_DIR": str(BENCH_DIR)},
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    out.close()
    return process


def wrk_finish(
    processes: Processes,
    process: subprocess.Popen,
    raw: Path,
    *,
    interrupt: bool = False,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Wait for wrk (after a SIGINT when ``interrupt``), then return its JSON summary."""
    if interrupt and process.poll() is None:
        # wrk stops on SIGINT and still reports what it measured.
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        processes.stop(process)
        raise BenchError(f"wrk did not finish; see {raw}") from None
    processes.stop(process)
    for line in raw.read_text(errors="replace").splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise BenchError(f"wrk printed no summary; see {raw}")


def wrk_run(
    processes: Processes, wrk: str, load: Load, url: str, raw: Path
) -> dict[str, Any]:
    """Run wrk to the end and return its JSON summary."""
    process = wrk_start(processes, wrk, load, url, raw)
    return wrk_finish(processes, process, raw, timeout=load.seconds + 60)


# --- who used the CPU ---------------------------------------------------------------


@dataclass
class CpuSnapshot:
    """CPU ticks used so far: by the machine, by each process, by our waited children."""

    at: float
    busy: int
    total: int
    processes: dict[int, tuple[int, str, int]]  # pid -> (parent pid, name, ticks)
    children: float  # seconds of CPU of our finished children (wrk, manage.py)


def cpu_snapshot() -> CpuSnapshot:
    """Read /proc: the machine's busy and total ticks, and every process's ticks."""
    fields = [
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "stat").read_text()
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw[raw.rindex(")") + 2 :].split()
            processes[int(entry.name)] = (
                int(rest[1]),
                name,
                int(rest[11]) + int(rest[12]),
            )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        at=time.monotonic(),
        busy=sum(fields[:8]) - idle,
        total=sum(fields[:8]),
        processes=processes,
        children=usage.ru_utime + usage.ru_stime,
    )


def cpu_shares(
    before: CpuSnapshot,
    after: CpuSnapshot,
    *,
    server_pid: int | None,
    postgres_pids: set[int] | None = None,
) -> dict[str, float]:
    """Return the share of the machine's CPU (all cores = 100) each party used.

    ``ours`` is gunicorn with its workers and the benchmark's finished children
    (wrk); ``postgresql`` is the postgres processes in ``postgres_pids`` (the
    benchmark database's backends and the server's background processes), or
    every postgres process when it is None; ``others`` is the rest of the busy
    time: other programs, and other databases' backends, at the same time.
    """
    total = after.total - before.total
    if total <= 0:
        return {"ours": 0.0, "postgresql": 0.0, "others": 0.0, "idle": 100.0}
    hertz = os.sysconf("SC_CLK_TCK")
    tree = {server_pid} if server_pid else set()
    grew = True
    while grew:
        grew = False
        for pid, (parent, _, _) in after.processes.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True

    def used(pid: int) -> int:
        return after.processes[pid][2] - before.processes.get(pid, (0, "", 0))[2]

    ours = sum(used(pid) for pid in tree if pid in after.processes)
    ours += round((after.children - before.children) * hertz)
    postgres = sum(
        used(pid)
        for pid, (_, name, _) in after.processes.items()
        if name.startswith("postgres")
        and pid not in tree
        and (postgres_pids is None or pid in postgres_pids)
    )
    busy = after.busy - before.busy
    others = max(0, busy - ours - postgres)
    return {
        "ours": round(100 * ours / total, 1),
        "postgresql": round(100 * postgres / total, 1),
        "others": round(100 * others / total, 1),
        "idle": round(100 * (total - busy) / total, 1),
    }
