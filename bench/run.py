"""Idem's benchmark suite: ``make bench`` (about 11 minutes) or ``make bench-quick``.

Creates its own PostgreSQL database, migrates it, starts ``gunicorn
idem_project.wsgi`` with sync workers and DEBUG=0, makes users and tokens
through the API, and drives every scenario with wrk and the Lua scripts beside
this file, in interleaved rounds. Then it fills the key table with a million
rows, measures keyed creates on the full table, captures the statements and
query plans of the key layer, and times the purge under a create load. It
prints a table and writes it, with every raw output, to bench/results/<time>/.
Whatever it started is stopped, and its database dropped, on any exit.
"""

import argparse
import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phases
import report
from harness import BENCH_DIR, BenchError
from scenarios import TITLES
from suite import STARTED, Bench


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run Idem's benchmark suite.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one short round of every scenario, a small key table (about a minute)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="interleaved rounds of every scenario (default 5; quick 1)",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds per wrk run (default 8; quick 2)"
    )
    parser.add_argument(
        "--keys",
        type=int,
        help="expired keys to fill the table with (default 1000000; quick 20000)",
    )
    parser.add_argument(
        "--live-fraction",
        type=float,
        default=0.2,
        help="live keys added, as a fraction of --keys",
    )
    parser.add_argument(
        "--principals",
        type=int,
        default=10_000,
        help="principals the filled keys are spread over",
    )
    parser.add_argument(
        "--table-rounds",
        type=int,
        help="rounds on the empty and on the full key table (default 5; quick 1)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument(
        "--scaling-workers",
        default="2",
        help="other worker counts to measure, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--scaling-rounds",
        type=int,
        help="rounds of the worker comparison (default 2; quick 1)",
    )
    parser.add_argument(
        "--quiet-cpu",
        type=float,
        default=15.0,
        help="before a run, wait while other programs use this share of the CPU (%%)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=15.0,
        help="seconds to wait at most before one run",
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        help="seconds to wait at most in all (default 60; quick 10)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads (the machine is shared: keep it small)",
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--contention-connections", type=int, default=16)
    parser.add_argument(
        "--postgres",
        default="postgres://root@127.0.0.1:5432",
        help="the PostgreSQL server",
    )
    parser.add_argument(
        "--database",
        default="idem_bench",
        help="the database the bench creates and drops",
    )
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--skip-table",
        action="store_true",
        help="skip the key-table fill, plans and purge",
    )
    options = parser.parse_args(argv)
    quick = options.quick
    options.rounds = options.rounds or (1 if quick else 5)
    options.duration = options.duration or (2.0 if quick else 8.0)
    options.keys = (
        options.keys if options.keys is not None else (20_000 if quick else 1_000_000)
    )
    options.table_rounds = options.table_rounds or (1 if quick else 5)
    options.scaling_rounds = options.scaling_rounds or (1 if quick else 2)
    if options.quiet_budget is None:
        options.quiet_budget = 10.0 if quick else 60.0
    options.scaling = [int(w) for w in options.scaling_workers.split(",") if w.strip()]
    return options


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + (
        "-quick" if options.quick else ""
    )
    out = options.results / stamp
    bench = Bench(options, out)
    signal.signal(signal.SIGTERM, interrupted)
    # A shell may start a background job with SIGINT ignored; Ctrl-C and
    # kill -INT must still stop the run through the clean-up below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    failed: str | None = None
    try:
        bench.setup()
        phases.rounds(bench)
        phases.scaling(bench)
        if not options.skip_table:
            phases.key_table(bench)
    except KeyboardInterrupt:
        failed = "interrupted"
    except BenchError as exc:
        failed = str(exc)
    finally:
        bench.say("stopping gunicorn and dropping the database")
        bench.teardown()
    bench.facts["seconds"] = round(time.monotonic() - STARTED, 1)
    bench.facts["waited_for_quiet_s"] = round(bench.quiet_spent, 1)
    text, figures = report.summarise(bench.runs, bench.facts, TITLES)
    text += f"\nFinished in {bench.facts['seconds']:.0f} s; raw outputs in {out}\n"
    if failed:
        text += f"\nThe run did not finish: {failed}\n"
    (out / "summary.txt").write_text(text)
    (out / "results.json").write_text(
        json.dumps(
            {"facts": bench.facts, "figures": figures, "runs": bench.runs},
            indent=2,
            default=str,
        )
    )
    print("\n" + text)
    invalid = [run for run in bench.runs if not run["valid"]]
    return 1 if failed or invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
