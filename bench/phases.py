"""The suite's phases after set-up: the rounds, the key table and the purge."""

import re
import time

import keytable
from report import Purge
from scenarios import SCENARIOS, round_order, table_round_order
from server import manage
from suite import Bench
from wrk import finish, start

LIVE_FRACTION = 0.2


def rounds(bench: Bench) -> None:
    """Run every scenario once a round, in the blocks ``round_order`` gives."""
    for number in range(bench.options.rounds):
        for block in round_order(number):
            bench.run_block(block, round_no=number + 1)


def key_table(bench: Bench) -> tuple[keytable.Fill, Purge]:
    """Fill the key table, compare it with an empty twin, purge it under load."""
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
    return fill, purge_under_load(bench)


def purge_under_load(bench: Bench) -> Purge:
    """Time purge_idempotency_keys while keyed creates run."""
    expired = keytable.expired_count(bench.db)
    raw = bench.raw / "purge-load-keyed.txt"
    load = bench.load(SCENARIOS["keyed"], seconds=600)
    writers = start(bench.processes, bench.wrk_path, load, bench.server.url, raw)
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
