"""One run of the suite: set-up, tear-down, and the runs of wrk in A B B A blocks."""

import argparse
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import wrk
from keytable import Database
from report import Run
from scenarios import SCENARIOS, Scenario
from server import BenchError, Processes, Server, call, django_env, manage
from targets import SERVERS
from wrk import Load, Summary

STARTED = time.monotonic()

# Arguments of the scenarios' scripts that no fixture decides.
SCRIPT_ARGS = {
    "baseline": {"keyed": "0"},
    "keyed": {"keyed": "1"},
    "upload": {"size": str(100 * 1024)},
    "contention": {"conns": "16"},
}


class Bench:
    """One run of the suite: what it started, what it measured."""

    def __init__(self, options: argparse.Namespace, out: Path, wrk_path: str) -> None:
        self.options = options
        self.out = out
        self.raw = out / "raw"
        self.raw.mkdir(parents=True)
        self.processes = Processes()
        self.db = Database(options.database_url)
        self.media = Path(tempfile.mkdtemp(prefix="idem-bench-media-"))
        self.env = django_env(self.db.url, self.media, secrets.token_urlsafe(40))
        self.server = Server(self.processes, self.env, self.raw / "gunicorn.log")
        # The servers of phases that do not use the main one, by phase.
        self.servers: dict[str, Server] = {}
        self.nonce = uuid.uuid4().hex[:10]
        self.serial = 0
        self.wrk_path = wrk_path
        self.tokens: dict[str, str] = {}
        # The tokens of phases whose server has a database of its own, by phase.
        self.phase_tokens: dict[str, dict[str, str]] = {}
        self.fixtures: dict[str, dict[str, str]] = {}
        self.runs: list[Run] = []

    def setup(self) -> None:
        """Make the database, start gunicorn, make users and fixtures, warm up."""
        self.say(f"database {self.db.name}: create and migrate")
        self.db.create()
        manage(["migrate", "--noinput"], env=self.env, log=self.raw / "manage.log")
        self.server.start(workers=self.options.workers)
        self.say(f"gunicorn: {self.options.workers} sync workers at {self.server.url}")
        self.tokens = self.sign_up_all(self.server)
        self.make_fixtures(self.tokens["orders"])
        self.warm_up()

    def post(
        self,
        path: str,
        body: dict,
        status: int,
        server: Server | None = None,
        **headers: str,
    ) -> Any:
        """POST ``body`` to ``server`` (the main one by default); return its JSON reply.

        Raise BenchError when the status is not ``status``.
        """
        got, reply = call((server or self.server).port, "POST", path, body, **headers)
        if got != status:
            raise BenchError(f"POST {path}: {got}, not {status}: {reply!r}")
        return reply

    def sign_up_all(self, server: Server) -> dict[str, str]:
        """Create the bench users through ``server``'s API; return their tokens by role."""
        return {
            role: self.sign_up(f"bench-{role}-{self.nonce}@example.com", server)
            for role in ("orders", "photos", "contention")
        }

    def sign_up(self, email: str, server: Server) -> str:
        """Create a user through ``server``'s API; return its token."""
        body = {"email": email, "password": secrets.token_urlsafe(16)}
        self.post("/api/users/", {**body, "name": "Bench"}, 201, server)
        return self.post("/api/auth/token/", body, 200, server)["token"]

    def make_fixtures(self, token: str) -> None:
        """Create the order the retry and read reuse, and the key the replay reuses."""
        plain = {"client_id": f"fixture-{self.nonce}", "product_id": 7, "quantity": 2}
        order = self.post("/api/orders/", plain, 201, Authorization=f"Token {token}")
        keyed = {**plain, "client_id": f"fixture-keyed-{self.nonce}"}
        key = f"fixture-key-{self.nonce}"
        headers = {"Authorization": f"Token {token}", "Idempotency-Key": key}
        self.post("/api/orders/", keyed, 201, **headers)
        self.fixtures = {
            "retry": {"client_id": plain["client_id"]},
            "replay": {"key": key, "client_id": keyed["client_id"]},
            "read": {"order": str(order["id"])},
        }

    def warm_up(self) -> None:
        """Run each kind of request for a moment, untimed, so workers are warm."""
        for name in ("baseline", "keyed", "replay", "upload"):
            self.wrk(self.load(SCENARIOS[name], seconds=1), f"warm-up-{name}")
        self.clean_media()

    def wrk(self, load: Load, name: str, phase: str = "rounds") -> Summary:
        """Run wrk with ``load`` against ``phase``'s server; output to raw/<name>.txt."""
        url = self.servers.get(phase, self.server).url
        return wrk.run(
            self.processes, self.wrk_path, load, url, self.raw / f"{name}.txt"
        )

    def teardown(self) -> None:
        """Stop every process, drop the database and remove the media folder."""
        self.processes.stop_all()
        try:
            self.db.drop()
        finally:
            shutil.rmtree(self.media, ignore_errors=True)

    def load(self, scenario: Scenario, *, seconds: float, phase: str = "") -> Load:
        """Return the wrk run of ``scenario``; a connection a request in SERVERS."""
        self.serial += 1
        args = {
            "token": self.phase_tokens.get(phase, self.tokens)[scenario.account],
            "nonce": f"{self.nonce}{self.serial}",
            "close": "1" if phase in SERVERS else "0",
            **SCRIPT_ARGS.get(scenario.name, {}),
            **self.fixtures.get(scenario.name, {}),
        }
        connections = 16 if scenario.name == "contention" else 8
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
            raw = f"{phase}-r{round_no}-{name}-{len(parts[phase, name]) + 1}"
            load = self.load(SCENARIOS[name], seconds=seconds, phase=phase)
            parts[phase, name].append(self.wrk(load, raw, phase))
            if name == "upload":
                self.clean_media()
        return [
            self.record(
                name, wrk.merge(parts[phase, name]), phase=phase, round_no=round_no
            )
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
