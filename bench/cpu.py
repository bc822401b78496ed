"""Who used the CPU: snapshots of /proc and each party's share between two of them."""

import contextlib
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CpuSnapshot:
    """CPU ticks used so far: by the machine, by each process, by our waited children."""

    at: float
    busy: int
    total: int
    steal: int  # ticks the hypervisor gave to other machines while ours waited
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
        steal=fields[7] if len(fields) > 7 else 0,
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
    time: other programs, and other databases' backends, at the same time;
    ``stolen`` is the time the hypervisor gave to other virtual machines while
    this one had work to run (``steal`` in ``/proc/stat``).
    """
    total = after.total - before.total
    if total <= 0:
        return {
            "ours": 0.0,
            "postgresql": 0.0,
            "others": 0.0,
            "stolen": 0.0,
            "idle": 100.0,
        }
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
    stolen = after.steal - before.steal
    others = max(0, busy - stolen - ours - postgres)
    return {
        "ours": round(100 * ours / total, 1),
        "postgresql": round(100 * postgres / total, 1),
        "others": round(100 * others / total, 1),
        "stolen": round(100 * stolen / total, 1),
        "idle": round(100 * (total - busy) / total, 1),
    }
