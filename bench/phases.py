"""The suite's phases after set-up: the rounds, the key table and the purge."""

import json
import re
import subprocess
import sys
import time

import keytable
from report import Purge
from scenarios import SCENARIOS, round_order, table_round_order
from server import BENCH_DIR, ROOT, BenchError, manage
from suite import Bench
from wrk import finish, start

LIVE_FRACTION = 0.2


def rounds(bench: Bench) -> None:
    """Run every scenario once a round, in the blocks ``round_order`` gives."""
    for number in range(bench.options.rounds):
        for block in round_order(number):
            bench.run_block(block, round_no=number + 1)


def key_table(bench: Bench) -> tuple[keytable.Fill, Purge]:
    """Fill the key table; compare it with an empty twin; EXPLAIN; purge under load."""
    keytable.empty(bench.db)
    live = int(bench.options.keys * LIVE_FRACTION)
    bench.say(
        f"key table: filling {bench.options.keys:,} expired and {live:,} live keys"
    )
    fill = keytable.fill(bench.db, expired=bench.options.keys, live=live)
    bench.say(f"key table: filled in {fill.seconds} s, {fill.size}")
    twin = keytable.Twin(bench.db)
    try:
        for number in range(bench.options.rounds):
            for block in table_round_order(number):
                bench.run_block(
                    block,
                    round_no=number + 1,
                    before=lambda phase: twin.use(phase.removeprefix("table-")),
                )
    finally:
        twin.drop()
    explain(bench)
    return fill, purge_under_load(bench)


def explain(bench: Bench) -> None:
    """Write the query plans of the key layer's statements on the full table."""
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "explain.py"), bench.accounts["orders"].token],
        cwd=ROOT,
        env=bench.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"explain.py failed:\n{done.stderr[-2000:]}")
    plans = json.loads(done.stdout)
    with (bench.out / "explain.txt").open("w") as out:
        for name, (sql, plan) in plans.items():
            out.write(f"== {name}\n{sql}\n\n" + "\n".join(plan) + "\n\n")
    bench.say("query plans: explain.txt")


def purge_under_load(bench: Bench) -> Purge:
    """Time purge_idempotency_keys while keyed creates run."""
    expired = keytable.expired_count(bench.db)
    raw = bench.raw / "purge-load-keyed.txt"
    writers = start(
        bench.processes,
        bench.wrk,
        bench.load(SCENARIOS["keyed"], seconds=600),
        bench.server.url,
        raw,
    )
    bench.say(f"purge: {expired:,} expired keys, under a keyed create load")
    try:
        time.sleep(0.5)  # let the writers reach their pace first
        started = time.monotonic()
        output = manage(
            ["purge_idempotency_keys"], env=bench.env, log=bench.raw / "purge.log"
        )
        seconds = time.monotonic() - started
    finally:
        got = finish(bench.processes, writers, raw, interrupt=True)
    run = bench.record("keyed", got, phase="purge-load", round_no=1)
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", output)]
    purge = Purge(expired, numbers[0] if numbers else -1, round(seconds, 1), run)
    bench.say(f"purge: {purge.deleted:,} deleted in {purge.seconds} s")
    return purge
