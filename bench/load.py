"""Load from wrk: install it, run a Lua script against the server, merge its summaries."""

import json
import os
import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import BENCH_DIR, ROOT, BenchError, Processes


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


def merge_runs(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Return one wrk summary for several runs of one scenario.

    Requests, statuses, replays and errors add up; the rate is all requests
    over all seconds; a percentile is the runs' percentiles weighted by their
    requests (wrk reports no histogram to merge), the maximum the largest;
    CPU shares are weighted by the runs' seconds.
    """
    if len(parts) == 1:
        return parts[0]
    requests = sum(int(p["requests"]) for p in parts)
    seconds = sum(float(p["seconds"]) for p in parts)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for part in parts:
        statuses.update({str(k): int(v) for k, v in part["statuses"].items()})
        errors.update({k: int(v) for k, v in part["errors"].items()})

    def weighted(field: str) -> float:
        if not requests:
            return 0.0
        return sum(float(p[field]) * int(p["requests"]) for p in parts) / requests

    shares = parts[0]["cpu"].keys()
    return {
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": weighted("p50_ms"),
        "p90_ms": weighted("p90_ms"),
        "p99_ms": weighted("p99_ms"),
        "max_ms": max(float(p["max_ms"]) for p in parts),
        "statuses": dict(statuses),
        "replayed": sum(int(p["replayed"]) for p in parts),
        "errors": dict(errors),
        "cpu": {
            share: sum(p["cpu"][share] * float(p["seconds"]) for p in parts)
            / (seconds or 1.0)
            for share in shares
        },
        "waited_s": round(sum(float(p["waited_s"]) for p in parts), 1),
    }
