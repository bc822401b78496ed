"""The server under test: the project's environment, manage.py and gunicorn."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from api import call
from harness import ROOT, BenchError, Processes


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
