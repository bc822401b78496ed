"""Faults that overlap: a chaos run of Idem against its own PostgreSQL and RabbitMQ.

``make chaos`` (or ``python bench/chaos.py [--seed N] [--quick] [--max-minutes M]``)
starts, in a temporary directory, a PostgreSQL cluster and a RabbitMQ node of its
own (so restarting them disturbs nothing else), a real SMTP server (aiosmtpd), a
webhook receiver registered as an endpoint for every event through the staff API,
gunicorn with 2 workers, two Celery workers and the scheduler. Client threads drive
sign-ups, keyed and ``client_id`` orders with lost replies and retries, payment
events by webhook and by queue with duplicates, and batch imports, while faults
SIGKILL web workers, Celery workers and the scheduler (starting them again), restart
RabbitMQ (its node stopped and started) and PostgreSQL, and make the mail server or
the webhook endpoint refuse, at random and overlapping; once per run PostgreSQL is
down while the mail server refuses. The end of each fault is recorded (restart done,
refusal over, process started again); the two minutes run from the last one. Then
the ledger is checked, printed, and the exit code is 1 on any loss, duplicate, stuck
row, 500, or effect (mail, payment, webhook delivery) carried out later than two
minutes after the last fault, or when the run outlives ``--max-minutes`` (15, 6 with
``--quick``): everything is stopped and the ledger so far printed as timed out.
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
import traceback
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kombu
import psycopg
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from events.signatures import verify_signature  # noqa: E402  after the path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WEBHOOK_SECRET = "chaos-webhook-secret"
PASSWORD = "correct horse battery chaos"
STAFF_EMAIL = "staff@chaos.example.org"
#: Seconds after the last fault within which every effect must be carried out.
EFFECT_DEADLINE = 120.0
#: The faults drawn at random; a Celery worker twice as often as the others.
KINDS = (
    "web",
    "worker",
    "worker",
    "beat",
    "rabbitmq",
    "postgresql",
    "smtp",
    "endpoint",
)
#: Seconds after an accepted mail or webhook delivery in which a SIGKILLed
#: worker, or PostgreSQL going down, may have lost its record, so the effect
#: is carried out again (the documented duplicate windows of the outbox and
#: of webhooks).
KILL_WINDOW = 2.0
#: Seconds after a SIGKILL in which the endpoint may still answer a request
#: the killed worker had sent: its acceptance is then recorded after the kill.
IN_FLIGHT_AT_KILL = 0.5


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(text: str) -> None:
    """Print one timestamped line of progress."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Call ``check`` until it is true; raise TimeoutError after ``seconds``."""
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not within {seconds:g} s")
        time.sleep(0.5)


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
    """A RabbitMQ node of this run's own: its own name, ports and directories.

    The system's node (5672) is never touched: every command names this
    node, and its server runs with this run's environment.
    """

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
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.start()

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

    def accepts(self) -> bool:
        """Return whether the node takes an AMQP connection now."""
        try:
            with kombu.Connection(self.url, connect_timeout=3) as conn:
                conn.connect()
        except Exception:  # noqa: BLE001  any refusal means not yet
            return False
        return True

    def start(self) -> None:
        """Start the node's server and return once it accepts connections."""
        self._as_rabbitmq("rabbitmq-server", "-detached")
        self.ctl("wait", "--timeout", "120", str(self.pid_file))
        wait_until(self.accepts, 60, "RabbitMQ accepting connections")

    def restart(self) -> None:
        """Stop the node's Erlang VM (waiting for its process to end), then start it."""
        self.ctl("stop", str(self.pid_file))
        # A pid file left behind would let the wait below see the old node.
        self.pid_file.unlink(missing_ok=True)
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.ctl("stop", str(self.pid_file))


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


@dataclass(frozen=True)
class Hook:
    """One POST the webhook receiver got: when, which event, what it answered."""

    at: float
    event_id: str
    status: int


class Receiver:
    """A webhook endpoint of this run's own: records every POST; it can refuse for a while.

    It answers 503 while refusing, 401 to a POST whose signature or event id
    does not hold, and 200 otherwise.
    """

    def __init__(self) -> None:
        self.refusing = False
        self.secret = ""
        self.hooks: list[Hook] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event_id = self.headers.get("Idem-Event-Id", "")
                status = receiver.answer(
                    body, event_id, self.headers.get("Idem-Signature", "")
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: bytes, event_id: str, signature: str) -> int:
        if self.refusing:
            status = 503
        else:
            try:
                same_id = json.loads(body).get("id") == event_id
            except (ValueError, AttributeError):
                same_id = False
            valid = same_id and verify_signature(body, signature, self.secret)
            status = 200 if valid else 401
        with self.lock:
            self.hooks.append(Hook(time.time(), event_id, status))
        return status

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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

    def stop(self, *, wait: float = 20) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.kill()


class Client:
    """HTTP calls that retry until they get an answer or the run's deadline; lost replies on purpose."""

    def __init__(self, port: int, rng: random.Random, deadline: float) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.rng = rng
        self.deadline = deadline
        self.statuses: Counter[int] = Counter()
        self.unhinted_503 = 0
        self.lock = threading.Lock()

    def call(
        self, path: str, body: Any, *, token: str = "", raw: bytes = b"", **headers: str
    ) -> tuple[int, Any]:
        """POST ``body`` until a 2xx or 4xx arrives; drop some replies on purpose.

        Return ``(0, None)`` when no answer came within 300 s or before the
        run's deadline.
        """
        data = raw or json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **headers}
        if token:
            headers["Authorization"] = f"Token {token}"
        give_up = min(time.monotonic() + 300, self.deadline)
        while (left := give_up - time.monotonic()) > 0:
            lose = self.rng.random() < 0.1
            request = urllib.request.Request(
                self.base + path, data=data, method="POST", headers=headers
            )
            try:
                with urllib.request.urlopen(
                    request, timeout=0.02 if lose else max(min(30, left), 0.1)
                ) as response:
                    status, reply = (
                        response.status,
                        json.loads(response.read() or b"{}"),
                    )
            except urllib.error.HTTPError as error:
                status, reply = error.code, None
                if status == 503 and not error.headers.get("Retry-After"):
                    with self.lock:
                        self.unhinted_503 += 1
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


def post_once(url: str, body: Any, token: str = "") -> tuple[int, Any]:
    """POST ``body`` once, without losing the reply; return the status and JSON."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def sign(body: bytes) -> str:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass
class Fault:
    """One fault: what it was, when it began and when it was over (None: not yet)."""

    name: str
    at: float
    over: float | None = None


class Run:
    """One chaos run: the servers, the load, the faults and the ledger."""

    def __init__(self, seed: int, quick: bool, max_minutes: float) -> None:
        self.seed, self.quick = seed, quick
        self.rng = random.Random(seed)
        self.fault_rng = random.Random(seed + 2)
        self.started = time.monotonic()
        self.began = time.time()
        self.deadline = self.started + max_minutes * 60
        self.base = Path(tempfile.mkdtemp(prefix="idem-chaos-"))
        self.faults: list[Fault] = []
        #: When PostgreSQL was stopped and when it was started again.
        self.outages: list[tuple[float, float]] = []
        self.recoveries: list[threading.Thread] = []
        self.busy: set[str] = set()
        self.last_fault = 0.0
        self.load_seconds = 0.0
        self.users: dict[str, int] = {}
        self.orders: dict[tuple[str, str], int] = {}
        self.events: set[str] = set()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop_faults = threading.Event()
        self.load_done = threading.Event()

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    # Setting up -----------------------------------------------------------

    def start(self) -> None:
        log(f"chaos seed {self.seed} in {self.base}")
        self.pg = Postgres(self.base)
        self.rabbit = RabbitMQ(self.base)
        self.smtp = Smtp()
        self.receiver = Receiver()
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
            # The receiver is on loopback; a refused delivery is tried
            # again within 5 s, so the deliveries land within the two
            # minutes after the endpoint's last refusal.
            "WEBHOOK_ALLOW_PRIVATE": "1",
            "WEBHOOK_TIMEOUT": "5",
            "WEBHOOK_RETRY_MAX_INTERVAL": "5",
            "DJANGO_SUPERUSER_EMAIL": STAFF_EMAIL,
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        }
        for command in (["migrate", "--noinput"], ["createsuperuser", "--noinput"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=self.env,
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=300,
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
        self.client = Client(self.port, random.Random(self.seed + 1), self.deadline)

        def healthy() -> bool:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/healthz", timeout=2
                )
                return True
            return False

        wait_until(healthy, 90, "gunicorn answering")
        self.endpoint_register()
        time.sleep(5)  # the workers declare their queues
        log("servers up")

    def endpoint_register(self) -> None:
        """Register the receiver for every event type, as staff, before any event."""
        base = f"http://127.0.0.1:{self.port}"
        status, reply = post_once(
            f"{base}/api/auth/token/", {"email": STAFF_EMAIL, "password": PASSWORD}
        )
        if status != 200:
            raise RuntimeError(f"staff token: {status} {reply}")
        status, reply = post_once(
            f"{base}/api/webhook-endpoints/",
            {"url": self.receiver.url, "events": ["*"]},
            token=reply["token"],
        )
        if status != 201:
            raise RuntimeError(f"webhook endpoint: {status} {reply}")
        self.receiver.secret = reply["secret"]
        log(f"webhook endpoint {reply['id']}: {self.receiver.url}")

    def stop(self, *, hurry: bool = False) -> None:
        self.stop_faults.set()
        for service in RUNNING:
            service.stop(wait=2 if hurry else 20)
        for part in ("receiver", "smtp", "rabbit", "pg"):
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
        give_up = min(time.monotonic() + 300, self.deadline)
        while time.monotonic() < give_up:
            try:
                with kombu.Connection(
                    self.rabbit.url,
                    connect_timeout=5,
                    transport_options={"confirm_publish": True},
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
        """Run ``operations`` operations from 6 client threads, or until the deadline."""
        started = time.monotonic()
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
        todo = iter(range(operations))
        todo_lock = threading.Lock()

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

        def client() -> None:
            while not self.out_of_time():
                with todo_lock:
                    n = next(todo, None)
                if n is None:
                    return
                try:
                    one(n)
                except Exception:  # noqa: BLE001  recorded, failing the run
                    with self.lock:
                        self.errors.append(traceback.format_exc())

        # Daemon threads: a run past its deadline does not wait for them.
        threads = [threading.Thread(target=client, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.load_seconds = time.monotonic() - started
        self.load_done.set()

    # The faults -------------------------------------------------------------

    def fault(self, name: str, *busy: str) -> Fault:
        fault = Fault(name, time.time())
        with self.lock:
            self.faults.append(fault)
            self.busy.update(busy)
        log(f"fault: {name}")
        return fault

    def recover(self, fault: Fault, busy: tuple[str, ...], action: Callable) -> None:
        """Run ``action`` in a thread of its own; the fault is over when it returns."""

        def run() -> None:
            try:
                action()
            except Exception:  # noqa: BLE001  recorded: the fault stays open
                log(f"fault {fault.name!r} did not end:\n{traceback.format_exc()}")
                return
            finally:
                with self.lock:
                    self.busy.difference_update(busy)
            fault.over = time.time()
            log(f"over: {fault.name}")

        thread = threading.Thread(target=run, daemon=True)
        self.recoveries.append(thread)
        thread.start()

    def web_worker_kill(self) -> None:
        children = self.web.children()
        if not children:
            return
        victim = self.fault_rng.choice(children)
        fault = self.fault("SIGKILL a web worker", "web")
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            now = self.web.children()
            return len(now) >= 2 and victim not in now

        self.recover(fault, ("web",), lambda: wait_until(replaced, 60, "gunicorn"))

    def service_kill(self, service: Service, name: str) -> None:
        fault = self.fault(name, service.name)
        service.kill()
        delay = self.fault_rng.uniform(1, 8)

        def restart() -> None:
            time.sleep(delay)
            service.start()

        self.recover(fault, (service.name,), restart)

    def refusal(self, name: str, server: Smtp | Receiver, busy: str) -> None:
        fault = self.fault(name, busy)
        server.refusing = True
        seconds = self.fault_rng.uniform(5, 20)

        def end() -> None:
            time.sleep(seconds)
            server.refusing = False

        self.recover(fault, (busy,), end)

    def postgres_restart(self) -> None:
        fault = self.fault("restart PostgreSQL", "postgresql")
        down = self.fault_rng.uniform(1, 5)

        self.recover(fault, ("postgresql",), lambda: self.postgres_down(down))

    def postgres_down(self, seconds: float) -> None:
        """Stop PostgreSQL for ``seconds``, start it, and record the outage."""
        began = time.time()
        self.pg.stop()
        time.sleep(seconds)
        self.pg.start()
        with self.lock:
            self.outages.append((began, time.time()))

    def postgres_down_while_smtp_refuses(self) -> None:
        fault = self.fault("PostgreSQL down while SMTP refuses", "postgresql", "smtp")
        down, after = self.fault_rng.uniform(5, 15), self.fault_rng.uniform(2, 10)

        def run() -> None:
            self.smtp.refusing = True
            try:
                self.postgres_down(down)
                time.sleep(after)
            finally:
                self.smtp.refusing = False

        self.recover(fault, ("postgresql", "smtp"), run)

    def inject(self, duration: float) -> None:
        """Random, overlapping faults until ``duration`` ends or the load is done.

        Each fault's end is recorded by the thread that ends it; once every
        one is over, the last end starts the two minutes.
        """
        rng = self.fault_rng
        end = min(time.monotonic() + duration, self.deadline)
        combined_at = time.monotonic() + rng.uniform(10, duration / 2)
        combined_done = False
        bag: list[str] = []

        def running() -> bool:
            return (
                time.monotonic() < end
                and not self.stop_faults.is_set()
                and not self.load_done.is_set()
            )

        while running():
            with self.lock:
                busy = set(self.busy)
            if not combined_done and time.monotonic() >= combined_at:
                if {"postgresql", "smtp"} & busy:
                    time.sleep(1)
                    continue
                combined_done = True
                self.postgres_down_while_smtp_refuses()
            else:
                # Drawn from a shuffled bag, so every kind comes up in turn.
                if not bag:
                    bag = list(KINDS)
                    rng.shuffle(bag)
                choice = bag.pop()
                if choice == "web" and "web" not in busy:
                    self.web_worker_kill()
                elif choice == "worker":
                    worker = rng.choice(self.workers)
                    if worker.name not in busy:
                        self.service_kill(worker, f"SIGKILL {worker.name}")
                elif choice == "beat" and "beat" not in busy:
                    self.service_kill(self.beat, "SIGKILL the scheduler")
                elif choice == "rabbitmq" and "rabbitmq" not in busy:
                    fault = self.fault("restart RabbitMQ", "rabbitmq")
                    self.recover(fault, ("rabbitmq",), self.rabbit.restart)
                elif choice == "postgresql" and "postgresql" not in busy:
                    self.postgres_restart()
                elif choice == "smtp" and "smtp" not in busy:
                    self.refusal("SMTP refuses", self.smtp, "smtp")
                elif choice == "endpoint" and "endpoint" not in busy:
                    self.refusal("webhook endpoint refuses", self.receiver, "endpoint")
            pause = rng.uniform(2, 10)
            while pause > 0 and running():
                time.sleep(min(pause, 0.5))
                pause -= 0.5
        if not combined_done:
            log("the load ended before PostgreSQL was down while SMTP refused")
        for thread in self.recoveries:
            thread.join(max(self.deadline - time.monotonic(), 0))
        ends = [fault.over for fault in self.faults]
        self.last_fault = max([end for end in ends if end is not None] or [time.time()])
        log("faults over")

    # The ledger ---------------------------------------------------------------

    def query(self, sql: str) -> list[tuple]:
        url = self.pg.url.replace("postgres://", "postgresql://")
        with psycopg.connect(url, connect_timeout=5) as db:
            return db.execute(sql).fetchall()

    def settled(self) -> bool:
        (open_messages, applied, unpublished, undelivered) = self.query(
            "SELECT"
            " (SELECT count(*) FROM outbox_outboxmessage"
            "   WHERE state IN ('pending', 'handed_over')),"
            " (SELECT count(*) FROM webhooks_webhookevent),"
            " (SELECT count(*) FROM events_event WHERE published_at IS NULL),"
            " (SELECT count(*) FROM events_webhookdelivery"
            "   WHERE state <> 'delivered')"
        )[0]
        return (
            open_messages == 0
            and applied >= len(self.events)
            and unpublished == 0
            and undelivered == 0
        )

    def wait_settled(self) -> float:
        """Wait until nothing is pending or the two minutes are over; return when."""
        deadline = min(self.last_fault + EFFECT_DEADLINE, self.began + self.budget())
        while time.time() < deadline:
            with contextlib.suppress(psycopg.Error):
                if self.settled():
                    break
            time.sleep(2)
        return time.time()

    def budget(self) -> float:
        return self.deadline - self.started

    def ledger(self, settled_at: float, *, timed_out: bool = False) -> dict[str, Any]:
        """Return the ledger: what the client saw, the faults, the effects and the checks."""
        faults = list(self.faults)
        ledger: dict[str, Any] = {
            "seed": self.seed,
            "timed out": timed_out,
            "duration (s)": round(time.monotonic() - self.started),
            "load (s)": round(self.load_seconds),
            "operations": sum(self.client.statuses.values()),
            "statuses": dict(sorted(self.client.statuses.items())),
            "faults": len(faults),
            "fault kinds": dict(Counter(fault.name for fault in faults)),
            "faults not over": [f.name for f in faults if f.over is None],
            "users answered": len(self.users),
            "orders answered": len(self.orders),
            "payment events": len(self.events),
        }
        try:
            effects, checks = self.effects(settled_at, faults)
        except psycopg.Error as exc:
            effects, checks = {"database": f"unreachable: {exc}"}, {}
        ledger.update(effects)
        ledger["checks"] = {
            "within --max-minutes": not timed_out,
            "no client error": not self.errors,
            "every fault over": all(f.over is not None for f in faults),
            **checks,
            "no 500": self.client.statuses.get(500, 0) == 0,
            "every 503 with Retry-After": self.client.unhinted_503 == 0,
        }
        if self.errors:
            ledger["client errors"] = self.errors[:3]
        return ledger

    def effects(
        self, settled_at: float, faults: list[Fault]
    ) -> tuple[dict[str, Any], dict[str, bool]]:
        """Return the effects found in the database and at the servers, and their checks."""
        deadline = self.last_fault + EFFECT_DEADLINE
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
        applied: Counter[str] = Counter()
        last_payment = 0.0
        for event_id, at in self.query(
            "SELECT event_id, extract(epoch FROM received_at)"
            " FROM webhooks_webhookevent"
        ):
            applied[event_id] += 1
            last_payment = max(last_payment, float(at))
        completions = Counter(
            order_id
            for (order_id,) in self.query(
                "SELECT order_id FROM orders_orderevent WHERE status = 'completed'"
            )
        )
        # The documented windows: a worker killed (or its database gone)
        # right after the server accepted the mail (or the endpoint the
        # delivery), before it was recorded, carries the effect out again.
        # An attempt claimed before PostgreSQL stopped may be answered
        # until it is back, and its record fails.
        windows = [
            (f.at - KILL_WINDOW, f.at + IN_FLIGHT_AT_KILL)
            for f in faults
            if f.name.startswith("SIGKILL worker")
        ]
        windows += [(down - KILL_WINDOW, up) for down, up in self.outages]

        def in_window(first: float) -> bool:
            return any(start <= first <= end for start, end in windows)

        mails = [message for _, message in self.smtp.accepted]
        ids = Counter(m["Message-ID"] for m in mails)
        first_seen: dict[str, float] = {}
        for at, message in self.smtp.accepted:
            first_seen.setdefault(message["Message-ID"], at)
        twice = [mid for mid, n in ids.items() if n > 1]
        mails_in_window = [mid for mid in twice if in_window(first_seen[mid])]
        # Copies of one Message-ID are judged above; a second Message-ID for
        # the same welcome or receipt would be a duplicate of another kind.
        distinct = {m["Message-ID"]: m for m in mails}.values()
        welcome = Counter(m["To"] for m in distinct if "Welcome" in m["Subject"])
        receipts = Counter(
            int(m["Subject"].split("#")[1].split()[0])
            for m in distinct
            if "#" in m["Subject"]
        )
        last_mail = max((at for at, _ in self.smtp.accepted), default=0.0)

        hooks = list(self.receiver.hooks)
        events = {str(pk) for (pk,) in self.query("SELECT id FROM events_event")}
        accepted = Counter(h.event_id for h in hooks if 200 <= h.status < 300)
        first_hook: dict[str, float] = {}
        for hook in hooks:
            if 200 <= hook.status < 300:
                first_hook.setdefault(hook.event_id, hook.at)
        hooks_twice = [eid for eid, n in accepted.items() if n > 1]
        hooks_in_window = [eid for eid in hooks_twice if in_window(first_hook[eid])]
        last_hook = max(first_hook.values(), default=0.0)
        (unpublished, deliveries, undelivered) = self.query(
            "SELECT"
            " (SELECT count(*) FROM events_event WHERE published_at IS NULL),"
            " (SELECT count(*) FROM events_webhookdelivery),"
            " (SELECT count(*) FROM events_webhookdelivery"
            "   WHERE state <> 'delivered')"
        )[0]

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
        last_effect = max(last_mail, last_payment, last_hook)
        effects = {
            "completed orders": len(completed),
            "mails accepted": len(mails),
            "mails accepted twice (in the documented window)": f"{len(twice)} "
            f"({len(mails_in_window)})",
            "events": len(events),
            "webhook POSTs (accepted, refused with 503, refused with 401)": [
                len(hooks),
                sum(accepted.values()),
                sum(h.status == 503 for h in hooks),
                sum(h.status == 401 for h in hooks),
            ],
            "events accepted twice (in the documented window)": f"{len(hooks_twice)} "
            f"({len(hooks_in_window)})",
            "in flight (keys, messages, failed)": in_flight,
            "events unpublished, deliveries not delivered": [unpublished, undelivered],
            "last effect, seconds after the last fault (mail, payment, webhook)": [
                round(at - self.last_fault, 1) if at else None
                for at in (last_mail, last_payment, last_hook)
            ],
        }
        checks = {
            "every answered sign-up exists once": all(
                users[email] == 1 for email in self.users
            ),
            "every answered order exists once": all(
                orders[key] == 1 for key in self.orders
            ),
            "one accepted mail per Message-ID, but in the window": set(twice)
            == set(mails_in_window),
            "one welcome mail per user": all(welcome[email] == 1 for email in all_users)
            and set(welcome) <= set(all_users),
            "one receipt per completed order": all(
                receipts[pk] == 1 for pk in completed
            )
            and set(receipts) <= completed,
            "one applied payment event per id": set(applied) == self.events
            and all(n == 1 for n in applied.values()),
            "each completed order completed once": all(
                completions[pk] == 1 for pk in completed
            ),
            "one accepted delivery per event and endpoint, but in the window": set(
                accepted
            )
            == events
            and deliveries == len(events)
            and set(hooks_twice) == set(hooks_in_window),
            "every delivery signed": all(h.status != 401 for h in hooks),
            "no key, message or event in flight": in_flight == (0, 0, 0)
            and unpublished == 0
            and undelivered == 0
            and self.queue_empty(),
            "effects within 2 minutes after the last fault": settled_at <= deadline
            and last_effect <= deadline,
        }
        return effects, checks

    def queue_empty(self) -> bool:
        """Return whether the broker holds no message of the run's queues."""
        try:
            with kombu.Connection(self.rabbit.url, connect_timeout=5) as conn:
                channel = conn.channel()
                for name in ("payment-events", "celery", "webhooks"):
                    with contextlib.suppress(Exception):
                        _, count, _ = channel.queue_declare(queue=name, passive=True)
                        if count:
                            return False
        except Exception:  # noqa: BLE001  a broker that is down holds them still
            return False
        return True

    def dump(self) -> None:
        """Write the faults, outages, mails and webhook POSTs to the run's directory."""
        seen = {
            "faults": [vars(fault) for fault in self.faults],
            "outages": self.outages,
            "mails": [
                [at, m["Message-ID"], m["To"], m["Subject"]]
                for at, m in self.smtp.accepted
            ],
            "hooks": [vars(hook) for hook in self.receiver.hooks],
        }
        for name, rows in seen.items():
            (self.base / f"{name}.json").write_text(json.dumps(rows, indent=0))

    def play(self, operations: int, duration: float) -> dict[str, Any]:
        """Start the servers, drive the load under faults, and return the ledger."""
        self.start()
        faults = threading.Thread(target=self.inject, args=(duration,), daemon=True)
        faults.start()
        self.drive(operations)
        log(f"load done in {self.load_seconds:.0f} s")
        faults.join()
        return self.ledger(self.wait_settled())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10000)
    parser.add_argument("--quick", action="store_true", help="300 operations, 90 s")
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="stop and fail past this (default 15, 6 with --quick)",
    )
    args = parser.parse_args()
    max_minutes = args.max_minutes or (6.0 if args.quick else 15.0)
    run = Run(args.seed, args.quick, max_minutes)
    operations, duration = (300, 90.0) if args.quick else (1000, 240.0)
    outcome: dict[str, Any] = {}

    def play() -> None:
        try:
            outcome["ledger"] = run.play(operations, duration)
        except BaseException:  # noqa: BLE001  reported by the main thread
            outcome["error"] = traceback.format_exc()

    # A daemon thread: past the deadline the main thread stops everything
    # and prints the ledger so far, whatever the run is waiting for.
    player = threading.Thread(target=play, daemon=True)
    player.start()
    player.join(max(run.deadline - time.monotonic(), 0))
    timed_out = player.is_alive()
    try:
        if timed_out:
            log(f"past --max-minutes {max_minutes:g}: stopping")
            run.stop_faults.set()
            try:
                ledger = run.ledger(time.time(), timed_out=True)
            except Exception:  # noqa: BLE001  whatever part is down now
                ledger = {"timed out": True, "error": traceback.format_exc()}
        elif "error" in outcome:
            print(outcome["error"], file=sys.stderr)
            print(f"chaos: the run failed; logs in {run.base}")
            return 1
        else:
            ledger = outcome["ledger"]
    finally:
        run.stop(hurry=timed_out)
        with contextlib.suppress(AttributeError):
            run.dump()
    print(json.dumps(ledger, indent=2, default=str))
    failed = [name for name, ok in ledger.get("checks", {}).items() if not ok]
    if timed_out or failed:
        print("FAILED: " + "; ".join(failed or ["timed out"]))
        print(f"logs in {run.base}")
        return 1
    shutil.rmtree(run.base, ignore_errors=True)
    print("chaos: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
