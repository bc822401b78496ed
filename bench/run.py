"""Idem's HTTP benchmark, the first part of ``make bench``; see docs/benchmarks.md.

Creates its own PostgreSQL database, starts ``gunicorn idem_project.wsgi``
with sync workers and DEBUG=0, and drives every scenario with wrk and the Lua
scripts beside this file, in interleaved rounds; then keyed creates under
uvicorn and gunicorn, 2 workers each. Then it fills the key table with a
million keys, compares keyed creates on the full and on an empty table, and
times the purge under load. It prints a summary and writes it, with every
raw output, to bench/results/<time>/. Whatever it started is stopped, and
its database dropped, on any exit. With ``--pgbouncer`` it runs, after the
set-up, only keyed creates under gunicorn straight to PostgreSQL and through
PgBouncer in transaction mode, 2 workers each, in interleaved rounds; with
``--citus URL`` (the coordinator's maintenance database) likewise on plain
PostgreSQL and on a fresh Citus database, migrated and distributed, then dropped.
"""

import argparse
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phases
from report import Outcome, summarise
from server import BENCH_DIR, ROOT, BenchError
from suite import Bench

MISSING_WRK = (
    "wrk is not installed: install it first (Debian and Ubuntu: apt-get install wrk;"
    " macOS: brew install wrk). The benchmark installs nothing itself."
)
DATABASE_URL = "postgres://root@127.0.0.1:5432/idem_bench"
# (flag, type, default, help); a default of None depends on --quick.
FLAGS = (
    ("--rounds", int, None, "interleaved rounds (default 5; quick 1)"),
    ("--duration", float, None, "seconds of one wrk run (default 8; quick 2)"),
    ("--keys", int, None, "expired keys (default 1000000; quick 20000)"),
    ("--workers", int, 4, "gunicorn sync workers (default 4)"),
    ("--database-url", str, DATABASE_URL, "the database to create and drop"),
    ("--results", Path, BENCH_DIR / "results", "where each run's folder goes"),
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the flags; ``--quick`` changes the defaults of the others."""
    parser = argparse.ArgumentParser(description="Run Idem's benchmark suite.")
    parser.add_argument("--quick", action="store_true", help="one short round of all")
    parser.add_argument("--skip-table", action="store_true", help="skip the key table")
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="only keyed creates, direct and through PgBouncer (transaction mode)",
    )
    parser.add_argument(
        "--citus",
        metavar="URL",
        help="only keyed creates, on PostgreSQL and on a fresh database of this Citus coordinator",
    )
    for flag, kind, default, text in FLAGS:
        parser.add_argument(flag, type=kind, default=default, help=text)
    options = parser.parse_args(argv)
    quick = options.quick
    options.rounds = options.rounds or (1 if quick else 5)
    options.duration = options.duration or (2.0 if quick else 8.0)
    if options.keys is None:
        options.keys = 20_000 if quick else 1_000_000
    return options


def heading(options: argparse.Namespace) -> str:
    """Return when, on which commit and machine, and with which settings it ran."""
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.check_output(git, cwd=ROOT, text=True).strip()
    return (
        f"Idem benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}\n"
        f"  {os.cpu_count()} cores, Python {platform.python_version()}; gunicorn {options.workers} "
        f"sync workers; wrk 1 thread, 8 connections, {options.duration:g} s a run, "
        f"{options.rounds} round(s)"
    )


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    wrk_path = shutil.which("wrk") or sys.exit(MISSING_WRK)
    stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}{'-quick' if options.quick else ''}"
    out = options.results / stamp
    bench = Bench(options, out, wrk_path)
    outcome = Outcome(heading(options), bench.runs)
    signal.signal(signal.SIGTERM, interrupted)
    # A shell may start a background job with SIGINT ignored; Ctrl-C and
    # kill -INT must still stop the run through the clean-up below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = ""
    try:
        bench.setup()
        if options.pgbouncer:
            phases.pgbouncer(bench)
        elif options.citus:
            phases.citus(bench)
        else:
            phases.rounds(bench)
            phases.servers(bench)
        if not (options.skip_table or options.pgbouncer or options.citus):
            outcome.fill, outcome.purge = phases.key_table(bench)
    except KeyboardInterrupt:
        failed = "interrupted"
    except BenchError as exc:
        failed = str(exc)
    finally:
        bench.say("stopping gunicorn and dropping the database")
        bench.teardown()
    text = summarise(outcome) + f"\nRaw outputs in {out}\n"
    if failed:
        text += f"\nThe run did not finish: {failed}\n"
    (out / "summary.txt").write_text(text)
    runs = [dataclasses.asdict(run) for run in bench.runs]
    found = json.dumps({"figures": outcome.figures, "runs": runs}, indent=1)
    (out / "results.json").write_text(found)
    print("\n" + text)
    return 1 if failed or not all(run.valid for run in bench.runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
