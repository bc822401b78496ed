"""A description of the machine the figures come from."""

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from database import Database
from harness import ROOT


def machine(db: Database) -> dict[str, Any]:
    """Describe the machine the figures come from."""
    memory = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    wrk_version = (
        subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, check=False
        )
        .stdout.strip()
        .splitlines()
    )
    return {
        "nproc": os.cpu_count(),
        "memory": memory,
        "cpu": cpu_model(),
        "postgresql": db.server_version(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": wrk_version[0] if wrk_version else "?",
        "git": git or "?",
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"
