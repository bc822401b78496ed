"""Load from wrk: find it, run a Lua script against the server, read its summary."""

import json
import os
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from server import BENCH_DIR, ROOT, BenchError, Processes


@dataclass(frozen=True)
class Load:
    """One wrk run of a Lua script against the server."""

    script: str
    args: dict[str, str]
    connections: int
    seconds: float


TIMES = ("p50_ms", "p90_ms", "p99_ms")


@dataclass
class Summary:
    """What one or more wrk runs of a scenario measured."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    replayed: int
    errors: dict[str, int]
    executions: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def parse(cls, found: dict) -> "Summary":
        """Build a summary from the JSON line common.lua prints."""
        extra = found.get("extra") or {}
        counts = {
            name: {str(k): int(v) for k, v in sorted(table.items()) if k != "status"}
            for name, table in (
                ("statuses", found["statuses"]),
                ("errors", found["errors"]),  # "status": non-2xx, judged apart
                ("executions", extra.get("executions") or {}),
            )
        }
        times = {name: float(found[name]) for name in (*TIMES, "seconds", "max_ms")}
        return cls(
            requests=int(found["requests"]),
            replayed=int(found["replayed"]),
            **times,
            **counts,
        )


def merge(parts: list[Summary]) -> Summary:
    """Return one summary for several runs of one scenario.

    Counts add up; a percentile is the runs' percentiles weighted by their
    requests (wrk reports no histogram to merge); the maximum is the largest.
    """
    if len(parts) == 1:
        return parts[0]
    requests = sum(p.requests for p in parts)

    def weighted(name: str) -> float:
        total = sum(getattr(p, name) * p.requests for p in parts)
        return total / requests if requests else 0.0

    def added(name: str) -> dict[str, int]:
        total: Counter[str] = Counter()
        for part in parts:
            total.update(getattr(part, name))
        return dict(sorted(total.items()))

    return Summary(
        requests=requests,
        seconds=sum(p.seconds for p in parts),
        max_ms=max(p.max_ms for p in parts),
        replayed=sum(p.replayed for p in parts),
        **{name: weighted(name) for name in TIMES},
        **{name: added(name) for name in ("statuses", "errors", "executions")},
    )


def start(
    processes: Processes, wrk: str, load: Load, url: str, raw: Path
) -> subprocess.Popen:
    """Start wrk in the background; its output goes to ``raw``."""
    command = [wrk, "--threads", "1", "--connections", str(load.connections)]
    command += ["--duration", f"{max(1, round(load.seconds))}s", "--timeout", "10s"]
    command += ["--script", str(BENCH_DIR / load.script), url, "--"]
    command += [f"{name}={value}" for name, value in load.args.items()]
    with raw.open("w") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        return processes.start(
            command,
            env={**os.environ, "BENCH_LUA_DIR": str(BENCH_DIR)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def finish(
    processes: Processes,
    process: subprocess.Popen,
    raw: Path,
    *,
    interrupt: bool = False,
    timeout: float = 60.0,
) -> Summary:
    """Wait for wrk (after a SIGINT when ``interrupt``); return its summary."""
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
            return Summary.parse(json.loads(line.removeprefix("BENCH_JSON ")))
    raise BenchError(f"wrk printed no summary; see {raw}")


def run(processes: Processes, wrk: str, load: Load, url: str, raw: Path) -> Summary:
    """Run wrk to the end and return its summary."""
    process = start(processes, wrk, load, url, raw)
    return finish(processes, process, raw, timeout=load.seconds + 60)
