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
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keytable
import psycopg
import report
from harness import (
    BENCH_DIR,
    ROOT,
    Account,
    BenchError,
    CpuSnapshot,
    Database,
    Load,
    Processes,
    Server,
    call,
    cpu_shares,
    cpu_snapshot,
    django_env,
    ensure_wrk,
    expect,
    manage,
    sign_up,
    wrk_finish,
    wrk_run,
    wrk_start,
)


@dataclass(frozen=True)
class Scenario:
    """One kind of load: its wrk script, who sends it and the statuses it may get."""

    name: str
    title: str
    script: str
    account: str
    expected: frozenset[int]
    all_replayed: bool = False
    contention: bool = False


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "baseline",
            "order create, no key",
            "order_create.lua",
            "orders",
            frozenset({201}),
        ),
        Scenario(
            "keyed",
            "order create, fresh key",
            "order_create.lua",
            "orders",
            frozenset({201}),
        ),
        Scenario(
            "retry",
            "order retry by client_id",
            "order_retry.lua",
            "orders",
            frozenset({200}),
        ),
        Scenario(
            "replay",
            "replay of a stored key",
            "order_replay.lua",
            "orders",
            frozenset({200}),
            all_replayed=True,
        ),
        Scenario(
            "read",
            "GET /api/orders/{id}/",
            "order_read.lua",
            "orders",
            frozenset({200}),
        ),
        Scenario(
            "photo",
            "photo create, JSON",
            "photo_create.lua",
            "photos",
            frozenset({201}),
        ),
        Scenario(
            "upload",
            "photo create, multipart 100 KB",
            "photo_upload.lua",
            "photos",
            frozenset({201}),
        ),
        Scenario(
            "contention",
            "16 connections, same keys",
            "contention.lua",
            "contention",
            frozenset({200, 201, 409}),
            contention=True,
        ),
    )
}
TITLES = {name: scenario.title for name, scenario in SCENARIOS.items()}
SCALING_SCENARIOS = ["baseline", "keyed", "replay", "read"]


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
        help="rounds on the empty and on the full key table (default 3; quick 1)",
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
        help="seconds to wait at most in all (default 120; quick 10)",
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
    options.table_rounds = options.table_rounds or (1 if quick else 3)
    options.scaling_rounds = options.scaling_rounds or (1 if quick else 2)
    if options.quiet_budget is None:
        options.quiet_budget = 10.0 if quick else 120.0
    options.scaling = [int(w) for w in options.scaling_workers.split(",") if w.strip()]
    return options


class Bench:
    """One run of the suite: what it started, what it measured."""

    def __init__(self, options: argparse.Namespace, out: Path) -> None:
        self.options = options
        self.out = out
        self.raw = out / "raw"
        self.raw.mkdir(parents=True)
        self.processes = Processes()
        self.db = Database(options.postgres, options.database)
        self.media = Path(tempfile.mkdtemp(prefix="idem-bench-media-"))
        self.env = django_env(
            database_url=self.db.url,
            media_root=self.media,
            secret_key=secrets.token_urlsafe(40),
        )
        self.server = Server(self.processes, self.env, self.raw)
        self.nonce = uuid.uuid4().hex[:10]
        self.serial = 0
        self.wrk = ""
        self.accounts: dict[str, Account] = {}
        self.fixtures: dict[str, str] = {}
        self.runs: list[dict[str, Any]] = []
        self.quiet_spent = 0.0
        self.facts: dict[str, Any] = {
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "settings": {
                "workers": options.workers,
                "threads": options.threads,
                "connections": options.connections,
                "duration": options.duration,
                "rounds": options.rounds,
                "quick": options.quick,
                "keys": options.keys,
            },
            "contention": [],
        }

    # --- set-up and tear-down -------------------------------------------------------

    def setup(self) -> None:
        self.wrk = ensure_wrk(self.raw / "apt.log")
        self.say(f"database {self.db.name}: create and migrate")
        self.db.create()
        manage(["migrate", "--noinput"], env=self.env, log=self.raw / "manage.log")
        self.facts["machine"] = machine(self.db)
        self.server.start(workers=self.options.workers)
        self.say(f"gunicorn: {self.options.workers} sync workers at {self.server.url}")
        port = self.server.port
        for role in ("orders", "photos", "contention"):
            self.accounts[role] = sign_up(
                port,
                email=f"bench-{role}-{self.nonce}@example.com",
                password=secrets.token_urlsafe(16),
            )
        token = self.accounts["orders"].token
        plain = {"client_id": f"fixture-{self.nonce}", "product_id": 7, "quantity": 2}
        order = expect(
            call(port, "POST", "/api/orders/", plain, token=token), 201, "order"
        )
        keyed = {
            "client_id": f"fixture-keyed-{self.nonce}",
            "product_id": 7,
            "quantity": 2,
        }
        key = f"fixture-key-{self.nonce}"
        first = call(
            port,
            "POST",
            "/api/orders/",
            keyed,
            token=token,
            headers={"Idempotency-Key": key},
        )
        expect(first, 201, "keyed order")
        again = call(
            port,
            "POST",
            "/api/orders/",
            keyed,
            token=token,
            headers={"Idempotency-Key": key},
        )
        expect(again, 200, "replayed order")
        if again.headers.get("idempotent-replayed") != "true":
            raise BenchError(
                "a repeated keyed request was not replayed: is the key layer on?"
            )
        self.fixtures = {
            "order": str(order.body["id"]),
            "client_id": plain["client_id"],
            "key": key,
            "keyed_client_id": keyed["client_id"],
        }
        self.warm_up()

    def warm_up(self) -> None:
        """Run each kind of request for a moment, untimed, so workers are warm."""
        for name in ("baseline", "keyed", "replay", "upload"):
            load = self.load(SCENARIOS[name], seconds=1)
            wrk_run(
                self.processes,
                self.wrk,
                load,
                self.server.url,
                self.raw / f"warm-up-{name}-{self.serial}.txt",
            )
        self.clean_media()

    def teardown(self) -> None:
        self.processes.stop_all()
        try:
            self.db.drop()
        finally:
            shutil.rmtree(self.media, ignore_errors=True)

    # --- one wrk run ----------------------------------------------------------------

    def load(self, scenario: Scenario, *, seconds: float) -> Load:
        self.serial += 1
        args = {
            "token": self.accounts[scenario.account].token,
            "nonce": f"{self.nonce}{self.serial}",
        }
        connections, threads = self.options.connections, self.options.threads
        if scenario.name in ("baseline", "keyed"):
            args["keyed"] = "1" if scenario.name == "keyed" else "0"
        elif scenario.name == "retry":
            args["client_id"] = self.fixtures["client_id"]
        elif scenario.name == "replay":
            args["key"] = self.fixtures["key"]
            args["client_id"] = self.fixtures["keyed_client_id"]
        elif scenario.name == "read":
            args["order"] = self.fixtures["order"]
        elif scenario.name == "upload":
            args["size"] = str(100 * 1024)
        elif scenario.contention:
            connections, threads = self.options.contention_connections, 1
            args["conns"] = str(connections)
        return Load(scenario.script, args, connections, threads, seconds)

    def run(self, name: str, *, phase: str, round_no: int) -> dict[str, Any]:
        """Run one scenario once and record what it measured and whether it is valid."""
        scenario = SCENARIOS[name]
        raw = self.raw / f"{phase}-r{round_no}-{name}.txt"
        before = self.contention_counts() if scenario.contention else None
        load = self.load(scenario, seconds=self.options.duration)
        waited = self.wait_for_quiet()
        before_cpu = cpu_snapshot()
        result = wrk_run(self.processes, self.wrk, load, self.server.url, raw)
        cpu = self.cpu_since(before_cpu)
        record = self.record(scenario, result, phase=phase, round_no=round_no, raw=raw)
        record["cpu"] = cpu
        record["waited_s"] = waited
        if scenario.contention:
            self.check_contention(record, result, before, round_no=round_no)
        if name == "upload":
            self.clean_media()
        self.say(
            f"{phase:<12} r{round_no} {name:<10} {record['rps']:8.1f} req/s  "
            f"p50 {record['p50_ms']:6.1f} ms  p99 {record['p99_ms']:6.1f} ms  "
            f"{report.statuses_text(record['statuses'])}  others {cpu['others']:.0f}%"
            + ("" if record["valid"] else "  INVALID: " + "; ".join(record["problems"]))
        )
        return record

    def record(
        self,
        scenario: Scenario,
        result: dict[str, Any],
        *,
        phase: str,
        round_no: int,
        raw: Path,
    ) -> dict[str, Any]:
        statuses = {str(k): int(v) for k, v in sorted(result["statuses"].items())}
        problems = []
        if not result["requests"]:
            problems.append("no request completed")
        for code, count in statuses.items():
            if int(code) not in scenario.expected:
                problems.append(f"unexpected status {code} x{count}")
        errors = {k: int(v) for k, v in result["errors"].items() if k != "status" and v}
        if errors:
            problems.append(f"socket errors {errors}")
        replayed = int(result["replayed"])
        if scenario.all_replayed and replayed != result["requests"]:
            problems.append(
                f"{int(result['requests']) - replayed} replies not replayed"
            )
        if not scenario.all_replayed and not scenario.contention and replayed:
            problems.append(f"{replayed} fresh requests replayed")
        record = {
            "phase": phase,
            "round": round_no,
            "scenario": scenario.name,
            "workers": self.server.workers,
            "requests": int(result["requests"]),
            "rps": float(result["rps"]),
            "p50_ms": float(result["p50_ms"]),
            "p90_ms": float(result["p90_ms"]),
            "p99_ms": float(result["p99_ms"]),
            "max_ms": float(result["max_ms"]),
            "statuses": statuses,
            "replayed": replayed,
            "errors": result["errors"],
            "problems": problems,
            "valid": not problems,
            "raw": str(raw.relative_to(self.out)),
        }
        self.runs.append(record)
        return record

    # --- contention -----------------------------------------------------------------

    def contention_counts(self) -> tuple[int, int]:
        """Return the contention user's orders and keys once the server has settled.

        Requests wrk sent just before it stopped are still executed after it
        exits; wait until the counts hold still.
        """
        account = self.accounts["contention"]
        last: tuple[int, int] | None = None
        steady = 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with self.db.connect() as conn:
                orders = conn.execute(
                    "SELECT count(*) FROM orders_order WHERE owner_id = %s",
                    (account.id,),
                ).fetchone()[0]
                keys = conn.execute(
                    f"SELECT count(*) FROM {keytable.TABLE} WHERE principal = %s",
                    (account.principal,),
                ).fetchone()[0]
            steady = steady + 1 if (orders, keys) == last else 0
            last = (orders, keys)
            if steady >= 3:
                break
            time.sleep(0.3)
        return last or (0, 0)

    def check_contention(
        self,
        record: dict[str, Any],
        result: dict[str, Any],
        before: tuple[int, int] | None,
        *,
        round_no: int,
    ) -> None:
        after = self.contention_counts()
        before = before or (0, 0)
        executions = result["extra"].get("executions") or {}
        keys_issued = int(result["extra"].get("keys_issued") or 0)
        orders, keys = after[0] - before[0], after[1] - before[1]
        many = {key: n for key, n in executions.items() if n > 1}
        server_errors = sum(
            n for code, n in record["statuses"].items() if code.startswith("5")
        )
        problems = record["problems"]
        if many:
            problems.append(f"{len(many)} keys executed more than once")
        if orders != keys_issued:
            problems.append(f"{orders} orders for {keys_issued} keys")
        if keys != keys_issued:
            problems.append(f"{keys} key rows for {keys_issued} keys")
        record["valid"] = not problems
        self.facts["contention"].append(
            {
                "round": round_no,
                "phase": record["phase"],
                "keys_issued": keys_issued,
                "orders_created": orders,
                "key_rows": keys,
                "keys_answered": len(executions),
                "max_executions": max(executions.values(), default=0),
                "server_errors": server_errors,
                "statuses": record["statuses"],
            }
        )

    # --- phases ---------------------------------------------------------------------

    def rounds(self) -> None:
        names = list(SCENARIOS)
        for number in range(self.options.rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                self.run(name, phase="rounds", round_no=number + 1)

    def scaling(self) -> None:
        """Measure the main scenarios with each worker count, interleaved in rounds.

        Every round restarts gunicorn with each count in turn, the usual count
        last, so ratios between counts are taken minutes apart at most.
        """
        if not self.options.scaling:
            return
        counts = [*self.options.scaling, self.options.workers]
        self.facts["scaling"] = {
            "workers": counts,
            "rounds": self.options.scaling_rounds,
        }
        for number in range(self.options.scaling_rounds):
            for workers in counts:
                self.restart(workers)
                for name in SCALING_SCENARIOS:
                    self.run(name, phase=f"workers-{workers}", round_no=number + 1)

    def restart(self, workers: int) -> None:
        self.server.stop()
        self.server.start(workers=workers)
        self.say(
            f"gunicorn: restarted with {workers} sync workers at {self.server.url}"
        )
        self.warm_up()

    def key_table(self) -> None:
        """Keyed creates on the empty and the full table, the plans, and the purge.

        The table is filled once; an empty twin then trades places with it
        between runs, so that each round measures both states (and the create
        without a key beside each), in an order rotated from round to round.
        """
        options = self.options
        keytable.empty(self.db)
        live = int(options.keys * options.live_fraction)
        self.say(f"key table: filling {options.keys:,} expired and {live:,} live keys")
        fill = keytable.fill(
            self.db, expired=options.keys, live=live, principals=options.principals
        )
        self.say(
            f"key table: {fill['rows']:,} rows in {fill['fill_seconds']} s "
            f"(+ VACUUM ANALYZE {fill['vacuum_analyze_seconds']} s), {fill['total_size']}"
        )
        facts: dict[str, Any] = {"fill": fill}
        self.facts["key_table"] = facts
        twin = keytable.Twin(self.db)
        steps = [
            ("empty", "keyed"),
            ("empty", "baseline"),
            ("full", "keyed"),
            ("full", "baseline"),
        ]
        try:
            for number in range(options.table_rounds):
                shift = (2 * number) % len(steps)
                for state, name in steps[shift:] + steps[:shift]:
                    twin.use(state)
                    self.run(name, phase=f"table-{state}", round_no=number + 1)
        finally:
            twin.drop()
        self.inspect()
        facts["purge"] = self.purge_under_load()

    def inspect(self) -> None:
        """Count each request's statements and EXPLAIN the key layer's, in-process."""
        env = {**self.env, "ALLOWED_HOSTS": "testserver"}
        done = subprocess.run(
            [
                sys.executable,
                str(BENCH_DIR / "inspect_sql.py"),
                "--token",
                self.accounts["orders"].token,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        (self.raw / "inspect.json").write_text(done.stdout)
        (self.raw / "inspect.err").write_text(done.stderr)
        if done.returncode != 0:
            raise BenchError(f"inspect_sql.py failed:\n{done.stderr[-2000:]}")
        found = json.loads(done.stdout)
        self.facts["inspect"] = found
        with (self.out / "explain.txt").open("w") as out:
            for name, got in found["explains"].items():
                out.write(
                    f"== {name}\n{got['sql']}\n\n" + "\n".join(got["plan"]) + "\n\n"
                )
        self.say("statements and plans captured: explain.txt")

    def purge_under_load(self) -> dict[str, Any]:
        """Time purge_idempotency_keys while keyed creates run; return both sides."""
        expired = self.db.scalar(
            f"SELECT count(*) FROM {keytable.TABLE} WHERE expires_at <= now()"
        )
        raw = self.raw / "purge-load-keyed.txt"
        load = self.load(SCENARIOS["keyed"], seconds=600)
        before_cpu = cpu_snapshot()
        writers = wrk_start(self.processes, self.wrk, load, self.server.url, raw)
        self.say(f"purge: {expired:,} expired keys, under a keyed create load")
        try:
            time.sleep(0.5)
            started = time.monotonic()
            output = manage(
                ["purge_idempotency_keys"], env=self.env, log=self.raw / "purge.log"
            )
            seconds = time.monotonic() - started
        finally:
            result = wrk_finish(self.processes, writers, raw, interrupt=True)
        cpu = self.cpu_since(before_cpu)
        record = self.record(
            SCENARIOS["keyed"], result, phase="purge-load", round_no=1, raw=raw
        )
        record["cpu"] = cpu
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", output)]
        left = keytable.sizes(self.db)
        purge = {
            "expired_before": expired,
            "deleted": numbers[0] if numbers else -1,
            "seconds": round(seconds, 2),
            "output": output.strip(),
            "expired_left": left["expired_now"],
            "rows_left": left["rows"],
            "writers": record,
        }
        self.say(
            f"purge: {purge['deleted']:,} deleted in {seconds:.1f} s; writers "
            f"{record['rps']:.1f} req/s, p99 {record['p99_ms']:.1f} ms"
        )
        return purge

    # --- helpers --------------------------------------------------------------------

    def wait_for_quiet(self) -> float:
        """Wait, within limits, until other programs leave the CPU to the benchmark.

        The machine may be shared: sample half a second at a time and go on once
        other programs used less than ``--quiet-cpu`` percent of it, or after
        ``--quiet-wait`` seconds, or at once when ``--quiet-budget`` is spent.
        Return the seconds waited.
        """
        options = self.options
        started = time.monotonic()
        while self.quiet_spent < options.quiet_budget:
            before = cpu_snapshot()
            time.sleep(0.5)
            others = self.cpu_since(before)["others"]
            if others < options.quiet_cpu:
                break
            waited = time.monotonic() - started
            if waited >= options.quiet_wait:
                break
            if waited < 1.0:
                self.say(f"other programs use {others:.0f}% of the CPU: waiting")
        waited = time.monotonic() - started
        # The first half second samples the machine; only the rest is waiting.
        self.quiet_spent += max(0.0, waited - 0.5)
        return round(waited, 1)

    def cpu_since(self, before: CpuSnapshot) -> dict[str, float]:
        server = self.server.process.pid if self.server.process else None
        after = cpu_snapshot()
        try:
            postgres = self.db.backend_pids()
        except psycopg.Error:
            postgres = None
        return cpu_shares(before, after, server_pid=server, postgres_pids=postgres)

    def clean_media(self) -> None:
        """Remove uploaded files: rows may point at nothing, the disk stays small."""
        shutil.rmtree(self.media / "photos", ignore_errors=True)

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - STARTED
        print(f"[{elapsed:6.1f}s] {message}", flush=True)


def machine(db: Database) -> dict[str, Any]:
    """Describe the machine the figures come from."""
    memory = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    wrk_version = (
        subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, check=False
        )
        .stdout.strip()
        .splitlines()
    )
    return {
        "nproc": os.cpu_count(),
        "memory": memory,
        "cpu": cpu_model(),
        "postgresql": db.server_version(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": wrk_version[0] if wrk_version else "?",
        "git": git or "?",
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


STARTED = time.monotonic()


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
        bench.rounds()
        bench.scaling()
        if not options.skip_table:
            bench.key_table()
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
