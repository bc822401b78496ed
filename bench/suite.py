"""One run of the suite: its set-up and tear-down, one wrk run and what it measured."""

import argparse
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import report
from api import Account, call, expect, sign_up
from contention import check_contention, contention_counts
from cpu import CpuSnapshot, cpu_shares, cpu_snapshot
from database import Database
from harness import BenchError, Processes
from load import Load, ensure_wrk, merge_runs, wrk_run
from machine import machine
from scenarios import SCENARIOS, Scenario
from server import Server, django_env, manage

STARTED = time.monotonic()


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
        return self.run_block([(phase, name)], round_no=round_no)[0]

    def run_block(
        self,
        block: Sequence[tuple[str, str]],
        *,
        round_no: int,
        before: Callable[[str], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Run one block of a round, (phase, scenario) slots, and record each once.

        A pair, whose ratio a target judges, runs in halves of the run's
        duration in the order A B B A, and each slot's two halves make its one
        record: a change in the machine's speed during the block, which on a
        shared machine drifts over seconds, then weighs on both slots alike
        instead of on whichever ran second. ``before(phase)`` runs before each
        wrk run (the table rounds put the phase's table in place).
        """
        if len(block) == 2:
            first, second = block
            order = [first, second, second, first]
            seconds = self.options.duration / 2
        else:
            order, seconds = list(block), self.options.duration
        parts: dict[tuple[str, str], list[dict[str, Any]]] = {
            slot: [] for slot in block
        }
        for slot in order:
            phase, name = slot
            if before:
                before(phase)
            part = f"-{len(parts[slot]) + 1}" if len(order) > len(block) else ""
            raw = self.raw / f"{phase}-r{round_no}-{name}{part}.txt"
            parts[slot].append(self.measure(name, seconds=seconds, raw=raw))
        return [
            self.finish(name, parts[(phase, name)], phase=phase, round_no=round_no)
            for phase, name in block
        ]

    def measure(self, name: str, *, seconds: float, raw: Path) -> dict[str, Any]:
        """Run wrk once for ``name``; return its summary with the CPU shares."""
        scenario = SCENARIOS[name]
        before = (
            contention_counts(self.db, self.accounts["contention"])
            if scenario.contention
            else None
        )
        load = self.load(scenario, seconds=seconds)
        waited = self.wait_for_quiet()
        before_cpu = cpu_snapshot()
        result = wrk_run(self.processes, self.wrk, load, self.server.url, raw)
        result["cpu"] = self.cpu_since(before_cpu)
        result["waited_s"] = waited
        result["raw"] = raw
        if scenario.contention:
            result["contention"] = (
                before,
                contention_counts(self.db, self.accounts["contention"]),
            )
        if name == "upload":
            self.clean_media()
        return result

    def finish(
        self, name: str, parts: list[dict[str, Any]], *, phase: str, round_no: int
    ) -> dict[str, Any]:
        """Record the runs of ``name`` in one round as one run, and report it."""
        scenario = SCENARIOS[name]
        result = merge_runs(parts)
        record = self.record(
            scenario, result, phase=phase, round_no=round_no, raw=parts[0]["raw"]
        )
        record["raw"] = ", ".join(str(p["raw"].relative_to(self.out)) for p in parts)
        record["cpu"] = result["cpu"]
        record["waited_s"] = result["waited_s"]
        if scenario.contention:
            before, after = parts[0]["contention"]
            self.facts["contention"].append(
                check_contention(record, result, before, after, round_no=round_no)
            )
        halves = " (A B B A halves)" if len(parts) > 1 else ""
        self.say(
            f"{phase:<12} r{round_no} {name:<10} {record['rps']:8.1f} req/s  "
            f"p50 {record['p50_ms']:6.1f} ms  p99 {record['p99_ms']:6.1f} ms  "
            f"{report.statuses_text(record['statuses'])}  others "
            f"{record['cpu']['others']:.0f}%{halves}"
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
        problems = scenario.problems(result, statuses)
        replayed = int(result["replayed"])
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
