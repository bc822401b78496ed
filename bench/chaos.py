"""Faults that overlap: a chaos run of Idem against its own PostgreSQL and RabbitMQ.

``make chaos`` (or ``python bench/chaos.py [--seed N] [--quick]``) starts, in a
temporary directory, a PostgreSQL cluster and a RabbitMQ node of its own (so
restarting them disturbs nothing else), a real SMTP server (aiosmtpd),
gunicorn with 2 workers, two Celery workers and the scheduler. Client threads
drive sign-ups, keyed and ``client_id`` orders with lost replies and retries,
payment events by webhook and by queue with duplicates, and batch imports,
while a fault thread SIGKILLs web workers, Celery workers and the scheduler
(restarting them), restarts RabbitMQ and PostgreSQL and makes the mail server
refuse, at random and overlapping; once per run PostgreSQL is down while the
mail server refuses. Then the ledger is checked, printed, and the exit code
is 1 on any loss, duplicate, stuck row, 500, or effect carried out later than
two minutes after the last fault.
"""

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from pathlib import Path
from typing import Any

import kombu
import psycopg
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
WEBHOOK_SECRET = "chaos-webhook-secret"
PASSWORD = "correct horse battery chaos"
#: Seconds after the last fault within which every effect must be carried out.
EFFECT_DEADLINE = 120.0


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(text: str) -> None:
    """Print one timestamped line of progress."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Postgres:
    """A PostgreSQL cluster of this run's own, on a free port, run as ``postgres``."""

    def __init__(self, base: Path) -> None:
        self.data = base / "pg"
        self.port = free_port()
        self.log = base / "pg.log"
        base.chmod(0o755)
        self.data.mkdir()
        shutil.chown(self.data, "postgres", "postgres")
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        )
        conf = self.data / "postgresql.conf"
        with conf.open("a") as extra:
            extra.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.data}'\nmax_connections = 200\n"
                "fsync = off\n"
            )
        self.start()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def pg_ctl(self, *args: str) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            *args,
        )

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "immediate")


class RabbitMQ:
    """A RabbitMQ node of this run's own: its own name, ports and directories."""

    def __init__(self, base: Path) -> None:
        self.node = f"chaos-{os.getpid()}@localhost"
        self.port = free_port()
        plugins = base / "enabled_plugins"
        plugins.write_text("[].\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "rabbit-log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        }
        (base / "rabbitmq.conf").write_text("loopback_users = none\n")
        for folder in ("mnesia", "rabbit-log"):
            (base / folder).mkdir()
        for path in ("mnesia", "rabbit-log", "enabled_plugins", "rabbitmq.conf"):
            shutil.chown(base / path, "rabbitmq", "rabbitmq")
        self.pid_file = base / "rabbit-log" / "rabbit.pid"
        self.env["RABBITMQ_PID_FILE"] = str(self.pid_file)
        # The server and its control tool run as the rabbitmq user, whose
        # Erlang cookie they share.
        self.env["HOME"] = "/var/lib/rabbitmq"
        self._as_rabbitmq("rabbitmq-server", "-detached")
        self.ctl("wait", "--timeout", "120", str(self.pid_file))
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _as_rabbitmq(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "rabbitmq", "--", f"/usr/lib/rabbitmq/bin/{tool}", *args],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=180,
        )

    def ctl(self, *args: str) -> None:
        self._as_rabbitmq("rabbitmqctl", "-q", "-n", self.node, *args)

    def restart(self) -> None:
        self.ctl("stop_app")
        self.ctl("start_app")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.ctl("stop")


class Smtp:
    """A real SMTP server that records every accepted mail; it can refuse for a while."""

    def __init__(self) -> None:
        self.port = free_port()
        self.refusing = False
        self.accepted: list[tuple[float, Any]] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusing:
            return "451 4.3.0 Try again later"
        with self.lock:
            self.accepted.append((time.time(), message_from_bytes(envelope.content)))
        return "250 2.0.0 OK"

    def stop(self) -> None:
        self.controller.stop()


#: Every service started, so a failed run still stops them.
RUNNING: list["Service"] = []


class Service:
    """One process the run keeps alive: started again whenever it died."""

    def __init__(self, name: str, args: list[str], env: dict, base: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = (base / f"{name}.log").open("ab")
        self.process: subprocess.Popen | None = None
        self.start()
        RUNNING.append(self)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the process and all of its children, as a lost machine would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def children(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


class Client:
    """HTTP calls that retry until they get an answer; lost replies on purpose."""

    def __init__(self, port: int, rng: random.Random) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.rng = rng
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def call(
        self, path: str, body: Any, *, token: str = "", raw: bytes = b"", **headers: str
    ) -> tuple[int, Any]:
        """POST ``body`` until a 2xx or 4xx arrives; drop some replies on purpose."""
        data = raw or json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **headers}
        if token:
            headers["Authorization"] = f"Token {token}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            lose = self.rng.random() < 0.1
            request = urllib.request.Request(
                self.base + path, data=data, method="POST", headers=headers
            )
            try:
                with urllib.request.urlopen(
                    request, timeout=0.02 if lose else 30
                ) as response:
                    status, reply = (
                        response.status,
                        json.loads(response.read() or b"{}"),
                    )
            except urllib.error.HTTPError as error:
                status, reply = error.code, None
            except OSError:
                time.sleep(0.5)
                continue
            with self.lock:
                self.statuses[status] += 1
            # 409: the same key is still in flight (a reply that was lost).
            if status in (409, 502, 503, 504):
                time.sleep(1)
                continue
            return status, reply
        return 0, None


def sign(body: bytes) -> str:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Run:
    """One chaos run: the servers, the load, the faults and the ledger."""

    def __init__(self, seed: int, quick: bool) -> None:
        self.seed, self.quick = seed, quick
        self.rng = random.Random(seed)
        self.base = Path(tempfile.mkdtemp(prefix="idem-chaos-"))
        self.faults: list[tuple[float, str]] = []
        self.last_fault = 0.0
        self.users: dict[str, int] = {}
        self.orders: dict[tuple[str, str], int] = {}
        self.events: set[str] = set()
        self.lock = threading.Lock()
        self.stop_faults = threading.Event()

    # Setting up -----------------------------------------------------------

    def start(self) -> None:
        log(f"chaos seed {self.seed} in {self.base}")
        self.pg = Postgres(self.base)
        self.rabbit = RabbitMQ(self.base)
        self.smtp = Smtp()
        (self.base / "var").mkdir()
        (self.base / "metrics").mkdir()
        self.env = {
            **os.environ,
            "DATABASE_URL": self.pg.url,
            "CELERY_BROKER_URL": self.rabbit.url,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            # As in production: a database that is down answers 503, not
            # Django's debug page.
            "DEBUG": "0",
            "SECRET_KEY": f"chaos-{uuid.uuid4().hex}{uuid.uuid4().hex}",
            "SECURE_COOKIES": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp.port),
            "EMAIL_TIMEOUT": "5",
            "VAR_DIR": str(self.base / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.base / "metrics"),
            "DATABASE_POOL_SIZE": "4",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.port = free_port()
        python = [sys.executable, "-m"]
        self.web = Service(
            "web",
            [
                *python,
                "gunicorn",
                "idem_project.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
            ],
            self.env,
            self.base,
        )
        self.workers = [
            Service(
                f"worker{n}",
                [
                    *python,
                    "celery",
                    "-A",
                    "idem_project",
                    "worker",
                    "--concurrency",
                    "2",
                    "--without-gossip",
                    "--without-mingle",
                    "--hostname",
                    f"chaos{n}@%h",
                    "--loglevel",
                    "INFO",
                ],
                self.env,
                self.base,
            )
            for n in (1, 2)
        ]
        self.beat = Service(
            "beat",
            [
                *python,
                "celery",
                "-A",
                "idem_project",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.base / "var" / "beat-schedule"),
            ],
            self.env,
            self.base,
        )
        self.client = Client(self.port, random.Random(self.seed + 1))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/healthz", timeout=2
                )
                break
            time.sleep(0.5)
        time.sleep(5)  # the workers declare their queues
        log("servers up")

    def stop(self) -> None:
        self.stop_faults.set()
        for service in RUNNING:
            service.stop()
        for part in ("smtp", "rabbit", "pg"):
            if hasattr(self, part):
                with contextlib.suppress(subprocess.SubprocessError):
                    getattr(self, part).stop()

    # The load ---------------------------------------------------------------

    def sign_up(self, n: int) -> None:
        email = f"user{n}-{self.seed}@example.com"
        status, reply = self.client.call(
            "/api/users/",
            {"email": email, "name": "Chaos", "password": PASSWORD, "client_id": email},
        )
        if status in (200, 201):
            with self.lock:
                self.users[email] = reply["id"] if reply else -1

    def token(self, email: str) -> str:
        status, reply = self.client.call(
            "/api/auth/token/", {"email": email, "password": PASSWORD}
        )
        return reply["token"] if status == 200 and reply else ""

    def order(self, token: str, email: str, n: int, keyed: bool) -> None:
        client_id = f"order-{n}-{self.seed}"
        headers = {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}
        status, reply = self.client.call(
            "/api/orders/",
            {"product_id": 1 + n % 9, "quantity": 1, "client_id": client_id},
            token=token,
            **headers,
        )
        if status in (200, 201) and reply:
            with self.lock:
                self.orders[(email, client_id)] = reply["id"]
            if self.rng.random() < 0.7:
                self.pay(reply["id"])

    def pay(self, order_id: int) -> None:
        event_id = f"evt_{order_id}_{self.seed}"
        body = json.dumps(
            {
                "id": event_id,
                "type": "payment.succeeded",
                "data": {"order_id": order_id},
            }
        ).encode()
        with self.lock:
            self.events.add(event_id)
        for _ in range(self.rng.choice((1, 1, 2, 3))):
            if self.rng.random() < 0.5:
                self.client.call(
                    "/api/webhooks/payments/",
                    None,
                    raw=body,
                    **{"X-Signature": sign(body)},
                )
            else:
                self.publish_event(body)

    def publish_event(self, body: bytes) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with kombu.Connection(
                    self.rabbit.url, transport_options={"confirm_publish": True}
                ) as conn:
                    conn.Producer().publish(
                        body,
                        routing_key="payment-events",
                        headers={"x-signature": sign(body)},
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode="persistent",
                        retry=False,
                    )
                return
            except Exception:  # noqa: BLE001  any broker fault: try again
                time.sleep(1)

    def batch(self, token: str, email: str, n: int) -> None:
        items = [
            {"client_id": f"batch-{n}-{i}-{self.seed}", "product_id": 3, "quantity": 2}
            for i in range(20)
        ]
        status, reply = self.client.call(
            "/api/orders/batch/", {"orders": items}, token=token
        )
        if status == 200 and reply:
            with self.lock:
                for result in reply["results"]:
                    self.orders[(email, result["client_id"])] = result["id"]

    def drive(self, operations: int) -> None:
        """Run ``operations`` operations from 6 client threads."""
        accounts = [f"buyer{n}-{self.seed}@example.com" for n in range(6)]
        for email in accounts:
            self.client.call(
                "/api/users/",
                {
                    "email": email,
                    "name": "Buyer",
                    "password": PASSWORD,
                    "client_id": email,
                },
            )
        tokens = {email: self.token(email) for email in accounts}

        def one(n: int) -> None:
            email = accounts[n % len(accounts)]
            kind = n % 10
            if kind < 3:
                self.sign_up(n)
            elif kind < 6:
                self.order(tokens[email], email, n, keyed=True)
            elif kind < 9:
                self.order(tokens[email], email, n, keyed=False)
            else:
                self.batch(tokens[email], email, n)

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(one, range(operations)))

    # The faults -------------------------------------------------------------

    def fault(self, name: str) -> None:
        self.faults.append((time.time(), name))
        log(f"fault: {name}")

    def inject(self, duration: float) -> None:
        """Random, overlapping faults until ``duration`` ends or the load is done."""
        end = time.monotonic() + duration
        combined_at = time.monotonic() + self.rng.uniform(10, duration / 2)
        combined_done = False
        while time.monotonic() < end and not self.stop_faults.is_set():
            if not combined_done and time.monotonic() >= combined_at:
                combined_done = True
                self.fault("PostgreSQL down while SMTP refuses")
                self.smtp.refusing = True
                self.pg.stop()
                time.sleep(self.rng.uniform(5, 15))
                self.pg.start()
                time.sleep(self.rng.uniform(2, 10))
                self.smtp.refusing = False
                continue
            choice = self.rng.choice(
                ["web", "worker", "worker", "beat", "rabbitmq", "postgresql", "smtp"]
            )
            if choice == "web":
                children = self.web.children()
                if children:
                    self.fault("SIGKILL a web worker")
                    os.kill(self.rng.choice(children), signal.SIGKILL)
            elif choice == "worker":
                worker = self.rng.choice(self.workers)
                if worker.process.poll() is not None:
                    continue  # killed a moment ago, not started again yet
                self.fault(f"SIGKILL {worker.name}")
                worker.kill()
                threading.Timer(self.rng.uniform(1, 8), worker.start).start()
            elif choice == "beat":
                if self.beat.process.poll() is not None:
                    continue
                self.fault("SIGKILL the scheduler")
                self.beat.kill()
                threading.Timer(self.rng.uniform(1, 8), self.beat.start).start()
            elif choice == "rabbitmq":
                self.fault("restart RabbitMQ")
                self.rabbit.restart()
            elif choice == "postgresql":
                self.fault("restart PostgreSQL")
                self.pg.stop()
                time.sleep(self.rng.uniform(1, 5))
                self.pg.start()
            else:
                self.fault("SMTP refuses")
                self.smtp.refusing = True
                threading.Timer(
                    self.rng.uniform(5, 20), setattr, (self.smtp, "refusing", False)
                ).start()
            time.sleep(self.rng.uniform(2, 10))
        time.sleep(21)  # the last timers restart what they killed
        self.smtp.refusing = False
        self.last_fault = time.time()
        log("faults over")

    # The ledger ---------------------------------------------------------------

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.pg.url.replace("postgres://", "postgresql://")) as db:
            return db.execute(sql).fetchall()

    def settled(self) -> bool:
        (open_messages,) = self.query(
            "SELECT count(*) FROM outbox_outboxmessage"
            " WHERE state IN ('pending', 'handed_over')"
        )[0]
        (applied,) = self.query("SELECT count(*) FROM webhooks_webhookevent")[0]
        return open_messages == 0 and applied >= len(self.events)

    def ledger(self) -> dict[str, Any]:
        deadline = self.last_fault + EFFECT_DEADLINE
        while time.time() < deadline and not self.settled():
            time.sleep(2)
        settled_at = time.time()
        users = Counter(
            email for (email,) in self.query("SELECT email FROM accounts_user")
        )
        orders = Counter(
            (email, client_id)
            for email, client_id in self.query(
                "SELECT u.email, o.client_id FROM orders_order o"
                " JOIN accounts_user u ON u.id = o.owner_id"
            )
        )
        completed = {
            pk
            for (pk,) in self.query(
                "SELECT id FROM orders_order WHERE status = 'completed'"
            )
        }
        applied = Counter(
            event_id
            for (event_id,) in self.query("SELECT event_id FROM webhooks_webhookevent")
        )
        completions = Counter(
            order_id
            for (order_id,) in self.query(
                "SELECT order_id FROM orders_orderevent WHERE status = 'completed'"
            )
        )
        mails = [message for _, message in self.smtp.accepted]
        ids = Counter(m["Message-ID"] for m in mails)
        # The documented window: a worker killed right after the server
        # accepted the mail, before it was recorded, sends it again.
        kills = [at for at, name in self.faults if name.startswith("SIGKILL worker")]
        first_seen: dict[str, float] = {}
        for at, message in self.smtp.accepted:
            first_seen.setdefault(message["Message-ID"], at)
        twice = [mid for mid, n in ids.items() if n > 1]
        in_window = [
            mid
            for mid in twice
            if any(0 <= kill - first_seen[mid] <= 2 for kill in kills)
        ]
        welcome = Counter(m["To"] for m in mails if "Welcome" in m["Subject"])
        receipts = Counter(
            int(m["Subject"].split("#")[1].split()[0])
            for m in mails
            if "#" in m["Subject"]
        )
        last_mail = max((at for at, _ in self.smtp.accepted), default=0.0)
        in_flight = self.query(
            "SELECT"
            " (SELECT count(*) FROM idempotency_idempotencykey"
            "   WHERE state = 'in_flight'),"
            " (SELECT count(*) FROM outbox_outboxmessage"
            "   WHERE state IN ('pending', 'handed_over')),"
            " (SELECT count(*) FROM outbox_outboxmessage WHERE state = 'failed')"
        )[0]
        all_users = [
            email for email in users if email.endswith(f"-{self.seed}@example.com")
        ]
        checks = {
            "every answered sign-up exists once": all(
                users[email] == 1 for email in self.users
            ),
            "every answered order exists once": all(
                orders[key] == 1 for key in self.orders
            ),
            "one accepted mail per Message-ID, but in the window": set(twice)
            == set(in_window),
            "a welcome mail per user, one but in the window": all(
                welcome[email] >= 1 for email in all_users
            )
            and sum(welcome.values()) - len(all_users) <= len(in_window),
            "one receipt per completed order": all(
                receipts[pk] == 1 for pk in completed
            )
            and set(receipts) <= completed,
            "one applied payment event per id": set(applied) == self.events
            and all(n == 1 for n in applied.values()),
            "each completed order completed once": all(
                completions[pk] == 1 for pk in completed
            ),
            "no key, message or event in flight": in_flight == (0, 0, 0)
            and self.queue_empty(),
            "no 500": self.client.statuses.get(500, 0) == 0,
            "effects within 2 minutes after the last fault": settled_at <= deadline
            and last_mail <= deadline,
        }
        return {
            "seed": self.seed,
            "operations": sum(self.client.statuses.values()),
            "statuses": dict(sorted(self.client.statuses.items())),
            "faults": len(self.faults),
            "fault kinds": dict(Counter(name for _, name in self.faults)),
            "users answered": len(self.users),
            "orders answered": len(self.orders),
            "completed orders": len(completed),
            "payment events": len(self.events),
            "mails accepted": len(mails),
            "mails accepted twice (in the documented window)": f"{len(twice)} "
            f"({len(in_window)})",
            "in flight (keys, messages, failed)": in_flight,
            "effects done, seconds after the last fault": round(
                max(last_mail, 0) - self.last_fault, 1
            ),
            "checks": checks,
        }

    def queue_empty(self) -> bool:
        with kombu.Connection(self.rabbit.url) as conn:
            channel = conn.channel()
            for name in ("payment-events", "celery"):
                with contextlib.suppress(Exception):
                    _, count, _ = channel.queue_declare(queue=name, passive=True)
                    if count:
                        return False
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10000)
    parser.add_argument("--quick", action="store_true", help="300 operations, 90 s")
    args = parser.parse_args()
    run = Run(args.seed, args.quick)
    operations, duration = (300, 90.0) if args.quick else (1000, 240.0)
    try:
        run.start()
        faults = threading.Thread(target=run.inject, args=(duration,))
        faults.start()
        run.drive(operations)
        log("load done")
        faults.join()
        ledger = run.ledger()
    finally:
        run.stop()
    print(json.dumps(ledger, indent=2))
    failed = [name for name, ok in ledger["checks"].items() if not ok]
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    shutil.rmtree(run.base, ignore_errors=True)
    print("chaos: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
