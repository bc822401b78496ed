"""The suite's phases after set-up: the rounds, the servers, the key table, the purge."""

import re
import time
from statistics import median

import citus as citus_db
import keytable
import pooler
from report import Purge
from scenarios import SCENARIOS, round_order, table_round_order
from server import Server, manage
from suite import Bench
from targets import CITUS, POOLERS, SERVERS
from wrk import finish, start

LIVE_FRACTION = 0.2


def rounds(bench: Bench) -> None:
    """Run every scenario once a round, in the blocks ``round_order`` gives."""
    for number in range(bench.options.rounds):
        for block in round_order(number):
            bench.run_block(block, round_no=number + 1)


def servers(bench: Bench) -> None:
    """Keyed creates under uvicorn and under gunicorn, 2 workers each, in pairs."""
    for phase in SERVERS:
        asgi = phase.startswith("uvicorn")
        # uvicorn's workers sum their metrics as gunicorn's do (gunicorn.conf.py).
        env = {**bench.env, "PROMETHEUS_MULTIPROC_DIR": str(bench.media / phase)}
        (bench.media / phase).mkdir()
        server = Server(bench.processes, env, bench.raw / f"{phase}.log", asgi=asgi)
        server.start(workers=2)
        bench.servers[phase] = server
        warm_up = bench.load(SCENARIOS["keyed"], seconds=1, phase=phase)
        bench.wrk(warm_up, f"warm-up-{phase}", phase)
    bench.say("servers: uvicorn and gunicorn, 2 workers each")
    block = [(phase, "keyed") for phase in SERVERS]
    for number in range(bench.options.rounds):
        bench.run_block(block[::-1] if number % 2 else block, round_no=number + 1)
    for server in bench.servers.values():
        bench.processes.stop(server.process)
    bench.servers.clear()


def pgbouncer(bench: Bench) -> None:
    """Keyed creates straight to PostgreSQL and through PgBouncer, 2 workers each."""
    through = pooler.start(bench.processes, bench.db.url, bench.raw / "pgbouncer")
    pooled = {"DATABASE_URL": through, "DATABASE_TRANSACTION_POOLING": "1"}
    pair(bench, dict(zip(POOLERS, ({}, pooled), strict=True)))


def citus(bench: Bench) -> None:
    """Keyed creates on plain PostgreSQL and on a fresh Citus database, 2 workers each."""
    name = bench.db.name + "_citus"
    url = citus_db.create(bench.options.citus, name)
    try:
        env = {**bench.env, "DATABASE_URL": url}
        bench.say(f"citus: database {name} created; migrate and distribute")
        for command in (["migrate", "--noinput"], ["citus_distribute"]):
            manage(command, env=env, log=bench.raw / "citus-manage.log")
        envs = dict(zip(CITUS, ({}, {"DATABASE_URL": url}), strict=True))
        pair(bench, envs, apart=CITUS[1])
    finally:
        citus_db.drop(bench.options.citus, name)


def pair(bench: Bench, envs: dict[str, dict[str, str]], apart: str = "") -> None:
    """Keyed creates under gunicorn, 2 workers each, with each phase's ``envs``.

    The phase ``apart`` has a database of its own, so it signs up its users.
    """
    for phase, env in envs.items():
        server = Server(
            bench.processes, {**bench.env, **env}, bench.raw / f"{phase}.log"
        )
        server.start(workers=2)
        bench.servers[phase] = server
        if phase == apart:
            bench.phase_tokens[phase] = bench.sign_up_all(server)
        bench.wrk(
            bench.load(SCENARIOS["keyed"], seconds=1, phase=phase),
            f"warm-up-{phase}",
            phase,
        )
    bench.say(f"{' and '.join(envs)}: gunicorn, 2 workers each")
    block = [(phase, "keyed") for phase in envs]
    for number in range(bench.options.rounds):
        bench.run_block(block[::-1] if number % 2 else block, round_no=number + 1)
    for phase in envs:
        rates = [run.got.rps for run in bench.runs if run.phase == phase]
        bench.say(f"{phase}: keyed create, median {median(rates):.1f} req/s")
    for server in bench.servers.values():
        bench.processes.stop(server.process)
    bench.servers.clear()


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
