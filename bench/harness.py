"""The benchmark's paths, its error, and the child processes it starts."""

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

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
