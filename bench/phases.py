"""The suite's phases after set-up: rounds, worker scaling, the key table, the purge."""

import json
import re
import subprocess
import sys
import time
from typing import Any

import keytable
from cpu import cpu_snapshot
from harness import BENCH_DIR, ROOT, BenchError
from load import wrk_finish, wrk_start
from scenarios import ROUND_BLOCKS, SCALING_SCENARIOS, SCENARIOS
from server import manage
from suite import Bench


def round_order(number: int) -> list[tuple[str, ...]]:
    """Return the blocks of round ``number`` (from 0), in the order they run."""
    shift = number % len(ROUND_BLOCKS)
    blocks = ROUND_BLOCKS[shift:] + ROUND_BLOCKS[:shift]
    turn = number % 2
    return [block[turn:] + block[:turn] for block in blocks]


def rounds(bench: Bench) -> None:
    for number in range(bench.options.rounds):
        for block in round_order(number):
            slots = [("rounds", name) for name in block]
            bench.run_block(slots, round_no=number + 1)


def scaling(bench: Bench) -> None:
    """Measure the main scenarios with each worker count, interleaved in rounds.

    Every round restarts gunicorn with each count in turn, the usual count
    last, so ratios between counts are taken minutes apart at most.
    """
    if not bench.options.scaling:
        return
    counts = [*bench.options.scaling, bench.options.workers]
    bench.facts["scaling"] = {
        "workers": counts,
        "rounds": bench.options.scaling_rounds,
    }
    for number in range(bench.options.scaling_rounds):
        for workers in counts:
            restart(bench, workers)
            for name in SCALING_SCENARIOS:
                bench.run(name, phase=f"workers-{workers}", round_no=number + 1)


def restart(bench: Bench, workers: int) -> None:
    bench.server.stop()
    bench.server.start(workers=workers)
    bench.say(f"gunicorn: restarted with {workers} sync workers at {bench.server.url}")
    bench.warm_up()


def table_round_order(number: int) -> list[list[tuple[str, str]]]:
    """Return the blocks of table round ``number`` (from 0): (phase, scenario) pairs.

    The two keyed creates, whose ratio is the target, run first, then the two
    creates without key with the tables in the opposite order; the table
    that goes first alternates from round to round. Each pair runs in halves,
    A B B A, like the compared pairs of the rounds.
    """
    first, second = ("empty", "full") if number % 2 == 0 else ("full", "empty")
    return [
        [(f"table-{first}", "keyed"), (f"table-{second}", "keyed")],
        [(f"table-{second}", "baseline"), (f"table-{first}", "baseline")],
    ]


def key_table(bench: Bench) -> None:
    """Keyed creates on the empty and the full table, the plans, and the purge.

    The table is filled once; an empty twin then trades places with it
    between runs, so that each round measures both states (and the create
    without a key beside each), in the order ``table_round_order`` gives.
    """
    options = bench.options
    keytable.empty(bench.db)
    live = int(options.keys * options.live_fraction)
    bench.say(f"key table: filling {options.keys:,} expired and {live:,} live keys")
    fill = keytable.fill(
        bench.db, expired=options.keys, live=live, principals=options.principals
    )
    bench.say(
        f"key table: {fill['rows']:,} rows in {fill['fill_seconds']} s "
        f"(+ VACUUM ANALYZE {fill['vacuum_analyze_seconds']} s, "
        f"CHECKPOINT {fill['checkpoint_seconds']} s), {fill['total_size']}"
    )
    facts: dict[str, Any] = {"fill": fill}
    bench.facts["key_table"] = facts
    twin = keytable.Twin(bench.db)
    try:
        for number in range(options.table_rounds):
            for block in table_round_order(number):
                bench.run_block(
                    block,
                    round_no=number + 1,
                    before=lambda phase: twin.use(phase.removeprefix("table-")),
                )
    finally:
        twin.drop()
    inspect(bench)
    facts["purge"] = purge_under_load(bench)


def inspect(bench: Bench) -> None:
    """Count each request's statements and EXPLAIN the key layer's, in-process."""
    env = {**bench.env, "ALLOWED_HOSTS": "testserver"}
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "inspect_sql.py"),
            "--token",
            bench.accounts["orders"].token,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (bench.raw / "inspect.json").write_text(done.stdout)
    (bench.raw / "inspect.err").write_text(done.stderr)
    if done.returncode != 0:
        raise BenchError(f"inspect_sql.py failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout)
    bench.facts["inspect"] = found
    with (bench.out / "explain.txt").open("w") as out:
        for name, got in found["explains"].items():
            out.write(f"== {name}\n{got['sql']}\n\n" + "\n".join(got["plan"]) + "\n\n")
    bench.say("statements and plans captured: explain.txt")


def purge_under_load(bench: Bench) -> dict[str, Any]:
    """Time purge_idempotency_keys while keyed creates run; return both sides."""
    expired = bench.db.scalar(
        f"SELECT count(*) FROM {keytable.TABLE} WHERE expires_at <= now()"
    )
    raw = bench.raw / "purge-load-keyed.txt"
    load = bench.load(SCENARIOS["keyed"], seconds=600)
    before_cpu = cpu_snapshot()
    writers = wrk_start(bench.processes, bench.wrk, load, bench.server.url, raw)
    bench.say(f"purge: {expired:,} expired keys, under a keyed create load")
    try:
        time.sleep(0.5)
        started = time.monotonic()
        output = manage(
            ["purge_idempotency_keys"], env=bench.env, log=bench.raw / "purge.log"
        )
        seconds = time.monotonic() - started
    finally:
        result = wrk_finish(bench.processes, writers, raw, interrupt=True)
    cpu = bench.cpu_since(before_cpu)
    record = bench.record(
        SCENARIOS["keyed"], result, phase="purge-load", round_no=1, raw=raw
    )
    record["cpu"] = cpu
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", output)]
    left = keytable.sizes(bench.db)
    purge = {
        "expired_before": expired,
        "deleted": numbers[0] if numbers else -1,
        "seconds": round(seconds, 2),
        "output": output.strip(),
        "expired_left": left["expired_now"],
        "rows_left": left["rows"],
        "writers": record,
    }
    bench.say(
        f"purge: {purge['deleted']:,} deleted in {seconds:.1f} s; writers "
        f"{record['rps']:.1f} req/s, p99 {record['p99_ms']:.1f} ms"
    )
    return purge
