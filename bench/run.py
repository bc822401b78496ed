"""Idem's benchmark suite: ``make bench`` (about 10 minutes) or ``make bench-quick``.

Creates its own PostgreSQL database, starts ``gunicorn idem_project.wsgi``
with sync workers and DEBUG=0, and drives every scenario with wrk and the Lua
scripts beside this file, in interleaved rounds. Then it fills the key table
with a million keys, compares keyed creates on the full and on an empty
table, writes the key layer's query plans, and times the purge under load.
It prints a summary and writes it, with every raw output, to
bench/results/<time>/. Whatever it started is stopped, and its database
dropped, on any exit. See docs/benchmarks.md.
"""

import argparse
import dataclasses
import json
import os
import platform
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


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the flags; ``--quick`` changes the defaults of the others."""
    parser = argparse.ArgumentParser(description="Run Idem's benchmark suite.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one short round of everything, a small key table",
    )
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds (default 5; quick 1)"
    )
    parser.add_argument(
        "--duration", type=float, help="seconds of one wrk run (default 8; quick 2)"
    )
    parser.add_argument(
        "--keys",
        type=int,
        help="expired keys in the key table (default 1000000; quick 20000)",
    )
    parser.add_argument(
        "--workers", type=int, default=4, help="gunicorn sync workers (default 4)"
    )
    parser.add_argument(
        "--database-url",
        default="postgres://root@127.0.0.1:5432/idem_bench",
        help="the PostgreSQL database the suite creates and drops (default %(default)s)",
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH_DIR / "results", help="where results go"
    )
    parser.add_argument(
        "--skip-table",
        action="store_true",
        help="skip the key table, its plans and the purge",
    )
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
    commit = subprocess.run(
        git, cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"Idem benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}\n"
        f"  {os.cpu_count()} cores, Python {platform.python_version()}; gunicorn {options.workers} "
        f"sync workers; wrk 1 thread, 8 connections, {options.duration:g} s a run, "
        f"{options.rounds} round(s)"
    )


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    out = options.results / (
        datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        + ("-quick" if options.quick else "")
    )
    bench = Bench(options, out)
    outcome = Outcome(heading(options), bench.runs)
    signal.signal(signal.SIGTERM, interrupted)
    # A shell may start a background job with SIGINT ignored; Ctrl-C and
    # kill -INT must still stop the run through the clean-up below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = ""
    try:
        bench.setup()
        phases.rounds(bench)
        if not options.skip_table:
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
    found = {
        "figures": outcome.figures,
        "runs": [dataclasses.asdict(run) for run in bench.runs],
    }
    (out / "results.json").write_text(json.dumps(found, indent=1, default=str))
    print("\n" + text)
    return 1 if failed or not all(run.valid for run in bench.runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
