"""The server under test and every child process: gunicorn, manage.py, wrk."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"


class BenchError(RuntimeError):
    """The benchmark cannot go on: a step failed or a process misbehaved."""


class Processes:
    """Every child process the benchmark started, so that all can be stopped."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs: Any) -> subprocess.Popen:
        """Start ``args`` in a session of its own, so a Ctrl-C reaches only us."""
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        self._running.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """Stop one process: SIGTERM, then SIGKILL after 15 seconds."""
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        """Stop every process still running, newest first."""
        for process in reversed(list(self._running)):
            self.stop(process)


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """Send one request to the server; return its status and its decoded JSON body."""
    data = None if body is None else json.dumps(body).encode()
    headers["Content-Type"] = "application/json"
    url = f"http://127.0.0.1:{port}{path}"
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def django_env(database_url: str, media_root: Path, secret_key: str) -> dict[str, str]:
    """Return the environment the project runs with under the benchmark."""
    env = {name: v for name, v in os.environ.items() if name != "STATIC_ROOT"}
    env.update(
        DJANGO_SETTINGS_MODULE="idem_project.settings",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECRET_KEY=secret_key,
        # DEBUG=0 refuses the development webhook secret; no webhook is sent.
        WEBHOOK_SECRET=secret_key + "-webhook",
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media_root),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(args: list[str], *, env: dict[str, str], log: Path) -> str:
    """Run ``manage.py args``; return its output, raise BenchError on failure."""
    command = [sys.executable, "manage.py", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    with log.open("a") as out:
        out.write(f"$ manage.py {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """gunicorn with sync workers, or uvicorn when ``asgi``, on a free loopback port."""

    processes: Processes
    env: dict[str, str]
    log: Path
    asgi: bool = False
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, workers: int) -> list[str]:
        if self.asgi:
            args = ["uvicorn", "idem_project.asgi:application", "--host", "127.0.0.1"]
            args += ["--port", str(self.port), "--no-access-log"]
        else:
            args = ["gunicorn", "idem_project.wsgi", "--timeout", "120"]
            args += ["--bind", f"127.0.0.1:{self.port}"]
        args += ["--workers", str(workers), "--backlog", "2048"]
        return [sys.executable, "-m", *args, "--log-level", "warning"]

    def start(self, *, workers: int) -> None:
        """Start the server and wait until every worker has answered."""
        self.port = free_port()
        with self.log.open("w") as log:
            self.process = self.processes.start(
                self.command(workers),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited; see {self.log}")
            with contextlib.suppress(OSError):
                if call(self.port, "GET", "/api/")[0] == 200:
                    # Let every worker import the URLconf before anything is timed.
                    for _ in range(workers * 4):
                        call(self.port, "GET", "/api/")
                    return
            time.sleep(0.2)
        raise BenchError(f"the server did not answer within 60 seconds; see {self.log}")
