"""One run of the suite: set-up, tear-down, and the runs of wrk in A B B A blocks."""

import argparse
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from database import Database
from report import Run
from scenarios import SCENARIOS, Scenario
from server import BenchError, Processes, Server, call, django_env, expect, manage
from wrk import Load, Summary, merge, require_wrk
from wrk import run as wrk_run

STARTED = time.monotonic()


@dataclass(frozen=True)
class Account:
    """A user made through the API, with its token."""

    id: int
    token: str


class Bench:
    """One run of the suite: what it started, what it measured."""

    def __init__(self, options: argparse.Namespace, out: Path) -> None:
        self.options = options
        self.out = out
        self.raw = out / "raw"
        self.raw.mkdir(parents=True)
        self.processes = Processes()
        self.db = Database(options.database_url)
        self.media = Path(tempfile.mkdtemp(prefix="idem-bench-media-"))
        self.env = django_env(
            database_url=self.db.url,
            media_root=self.media,
            secret_key=secrets.token_urlsafe(40),
        )
        self.server = Server(self.processes, self.env, self.raw / "gunicorn.log")
        self.nonce = uuid.uuid4().hex[:10]
        self.serial = 0
        self.wrk = ""
        self.accounts: dict[str, Account] = {}
        self.fixtures: dict[str, str] = {}
        self.runs: list[Run] = []

    def setup(self) -> None:
        """Check wrk, make the database, start gunicorn, make users and fixtures."""
        self.wrk = require_wrk()
        self.say(f"database {self.db.name}: create and migrate")
        self.db.create()
        manage(["migrate", "--noinput"], env=self.env, log=self.raw / "manage.log")
        self.server.start(workers=self.options.workers)
        self.say(f"gunicorn: {self.options.workers} sync workers at {self.server.url}")
        for role in ("orders", "photos", "contention"):
            self.accounts[role] = self.sign_up(f"bench-{role}-{self.nonce}@example.com")
        self.make_fixtures(self.accounts["orders"].token)
        self.warm_up()

    def sign_up(self, email: str) -> Account:
        """Create a user through the API and get its token."""
        port, body = (
            self.server.port,
            {"email": email, "password": secrets.token_urlsafe(16)},
        )
        user = expect(
            call(port, "POST", "/api/users/", {**body, "name": "Bench"}), 201, "sign-up"
        )
        token = expect(call(port, "POST", "/api/auth/token/", body), 200, "token")[
            "token"
        ]
        return Account(id=user["id"], token=token)

    def make_fixtures(self, token: str) -> None:
        """Create the order the retry and read reuse, and the key the replay reuses."""
        port, auth = self.server.port, f"Token {token}"
        plain = {"client_id": f"fixture-{self.nonce}", "product_id": 7, "quantity": 2}
        order = expect(
            call(port, "POST", "/api/orders/", plain, Authorization=auth), 201, "order"
        )
        keyed = {**plain, "client_id": f"fixture-keyed-{self.nonce}"}
        key = f"fixture-key-{self.nonce}"
        for status in (201, 200):
            reply = call(
                port,
                "POST",
                "/api/orders/",
                keyed,
                Authorization=auth,
                Idempotency_Key=key,
            )
            expect(reply, status, "keyed order")
        if reply.headers.get("idempotent-replayed") != "true":
            raise BenchError(
                "a repeated keyed request was not replayed: is the key layer on?"
            )
        self.fixtures = {
            "order": str(order["id"]),
            "client_id": plain["client_id"],
            "key": key,
            "keyed_client_id": keyed["client_id"],
        }

    def warm_up(self) -> None:
        """Run each kind of request for a moment, untimed, so workers are warm."""
        for name in ("baseline", "keyed", "replay", "upload"):
            raw = self.raw / f"warm-up-{name}-{self.serial}.txt"
            wrk_run(
                self.processes,
                self.wrk,
                self.load(SCENARIOS[name], seconds=1),
                self.server.url,
                raw,
            )
        self.clean_media()

    def teardown(self) -> None:
        """Stop every process, drop the database and remove the media folder."""
        self.processes.stop_all()
        try:
            self.db.drop()
        finally:
            shutil.rmtree(self.media, ignore_errors=True)

    def load(self, scenario: Scenario, *, seconds: float) -> Load:
        """Return the wrk run of ``scenario``, with the arguments its script takes."""
        self.serial += 1
        args = {
            "token": self.accounts[scenario.account].token,
            "nonce": f"{self.nonce}{self.serial}",
        }
        connections = 8
        if scenario.name in ("baseline", "keyed"):
            args["keyed"] = "1" if scenario.name == "keyed" else "0"
        elif scenario.name == "retry":
            args["client_id"] = self.fixtures["client_id"]
        elif scenario.name == "replay":
            args.update(
                key=self.fixtures["key"], client_id=self.fixtures["keyed_client_id"]
            )
        elif scenario.name == "read":
            args["order"] = self.fixtures["order"]
        elif scenario.name == "upload":
            args["size"] = str(100 * 1024)
        elif scenario.name == "contention":
            connections = 16
            args["conns"] = str(connections)
        return Load(scenario.script, args, connections, seconds)

    def run_block(
        self,
        block: Sequence[tuple[str, str]],
        *,
        round_no: int,
        before: Callable[[str], None] | None = None,
    ) -> list[Run]:
        """Run one block of (phase, scenario) slots and record each slot once.

        A pair, whose ratio a target judges, runs in halves of the duration in
        the order A B B A, and each slot's two halves make its one run: a
        steady drift of the machine's speed then weighs on both slots alike.
        ``before(phase)`` runs before each wrk run.
        """
        order, seconds = list(block), self.options.duration
        if len(block) == 2:
            order, seconds = [block[0], block[1], block[1], block[0]], seconds / 2
        parts: dict[tuple[str, str], list[Summary]] = {slot: [] for slot in block}
        for phase, name in order:
            if before:
                before(phase)
            raw = (
                self.raw
                / f"{phase}-r{round_no}-{name}-{len(parts[phase, name]) + 1}.txt"
            )
            load = self.load(SCENARIOS[name], seconds=seconds)
            parts[phase, name].append(
                wrk_run(self.processes, self.wrk, load, self.server.url, raw)
            )
            if name == "upload":
                self.clean_media()
        return [
            self.record(name, merge(parts[phase, name]), phase=phase, round_no=round_no)
            for phase, name in block
        ]

    def record(self, name: str, got: Summary, *, phase: str, round_no: int) -> Run:
        """Keep one run of ``name`` and print it."""
        run = Run(phase, round_no, name, got, SCENARIOS[name].problems(got))
        self.runs.append(run)
        self.say(
            f"{phase:<12} r{round_no} {name:<10} {got.rps:8.1f} req/s  p50 {got.p50_ms:6.1f} ms  "
            f"p99 {got.p99_ms:6.1f} ms"
            + ("" if run.valid else "  INVALID: " + "; ".join(run.problems))
        )
        return run

    def clean_media(self) -> None:
        """Remove uploaded files: rows may point at nothing, the disk stays small."""
        shutil.rmtree(self.media / "photos", ignore_errors=True)

    def say(self, message: str) -> None:
        """Print ``message`` with the seconds since the start."""
        print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)
