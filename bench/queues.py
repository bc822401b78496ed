"""Published-to-applied throughput of a Celery task, with and without ``@idempotent``.

Run from the project root, with PostgreSQL (a database of its own, created
and dropped) and the local RabbitMQ (a virtual host of its own, deleted):

    .venv/bin/python bench/queues.py [--database-url URL] [--quick]

One worker with two pool processes runs three tasks with one insert as their
effect: alone, alone in a transaction, and under ``@idempotent``. Each of
three rounds publishes 1,000 messages of each task in turn and times from
the first publish until the last message's effect is in the database. The
tasks run A B C, C B A, A B C, so a drift of the machine's load weighs on
all; the figures are the medians, and the dedupe's ratio to each.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import django
from celery import shared_task


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    url = "postgres://root@127.0.0.1:5432/bench_queues"
    parser.add_argument("--database-url", default=url, help="created and dropped")
    parser.add_argument("--quick", action="store_true", help="1 round of 200 messages")
    return parser.parse_args()


# Run as a script and imported by the worker (``--include bench.queues``),
# which is given the script's database.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")
if __name__ == "__main__":
    ARGS = parse_args()
    os.environ["DATABASE_URL"] = ARGS.database_url
django.setup()

from django.db import transaction  # noqa: E402

from idempotency.functions import idempotent  # noqa: E402
from orders.models import OrderEvent  # noqa: E402

PLAIN, DEDUPED = "bench.queues.apply_plain", "bench.queues.apply_deduped"
ATOMIC = "bench.queues.apply_atomic"
TASKS = (PLAIN, ATOMIC, DEDUPED)


@shared_task(name=PLAIN)
def apply_plain(message_id: str, order_id: int, owner_id: int) -> int:
    """Apply a message with no dedupe: the effect alone, one insert."""
    return OrderEvent.objects.create(
        owner_id=owner_id, order_id=order_id, status="pending"
    ).pk


@shared_task(name=ATOMIC)
def apply_atomic(message_id: str, order_id: int, owner_id: int) -> int:
    """Apply a message with no dedupe, in a transaction as the decorator opens one."""
    with transaction.atomic():
        return OrderEvent.objects.create(
            owner_id=owner_id, order_id=order_id, status="pending"
        ).pk


@shared_task(name=DEDUPED)
@idempotent(key="{message_id}", scope="bench.queues")
def apply_deduped(message_id: str, order_id: int, owner_id: int) -> int:
    """Apply a message once per id: the same effect under ``@idempotent``."""
    return OrderEvent.objects.create(
        owner_id=owner_id, order_id=order_id, status="pending"
    ).pk


@dataclass(frozen=True)
class Round:
    """One timed round: which task, and its messages applied per second."""

    task: str
    per_second: float


def run_round(app, conn, task: str, order, messages: int) -> Round:  # noqa: ANN001
    start_count = order.events.count()
    prefix = uuid.uuid4().hex[:8]
    began = time.perf_counter()
    for n in range(messages):
        kwargs = {
            "message_id": f"{prefix}-{n}",
            "order_id": order.pk,
            "owner_id": order.owner_id,
        }
        app.send_task(task, kwargs=kwargs, connection=conn)
    while order.events.count() < start_count + messages:
        time.sleep(0.02)
    return Round(task, messages / (time.perf_counter() - began))


def measure(messages: int, count: int) -> list[Round]:
    """Warm every task up, then run ``count`` rounds: A B C, C B A, A B C and on."""
    from idem_project.celery import app
    from orders.models import Order
    from tests.factories import make_user
    from tests.workers import Broker, CeleryWorker

    order, _ = Order.objects.get_or_create_by_client_id(
        owner=make_user(email=f"bench-{uuid.uuid4().hex[:8]}@example.com"),
        client_id="bench-queues",
        product_id=1,
        quantity=1,
    )
    broker = Broker()
    worker = CeleryWorker(broker.url, concurrency=2, include=["bench.queues"])
    rounds: list[Round] = []
    try:
        worker.wait_until_ready()
        with app.connection_for_write(broker.url) as conn:
            for task in TASKS:
                run_round(app, conn, task, order, 100)
            for n in range(count):
                for task in TASKS if n % 2 == 0 else TASKS[::-1]:
                    done = run_round(app, conn, task, order, messages)
                    rounds.append(done)
                    print(f"{task:28} {messages:6} msgs {done.per_second:8.1f}/s")
    finally:
        worker.stop()
        broker.delete()
    return rounds


def main(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connections
    from keytable import Database
    from targets import QUEUE_DEDUPE, judged

    database = Database(args.database_url)
    database.create()
    try:
        call_command("migrate", verbosity=0)
        rounds = measure(*((200, 1) if args.quick else (1000, 3)))
    finally:
        connections.close_all()
        database.drop()
    medians = {
        task: statistics.median(r.per_second for r in rounds if r.task == task)
        for task in TASKS
    }
    for task in TASKS:
        ratio = medians[DEDUPED] / medians[task]
        print(f"median {task:28} {medians[task]:7.1f} msg/s (dedupe: {ratio:.2f}x)")
    print(judged({QUEUE_DEDUPE: medians[DEDUPED] / medians[PLAIN]}, "queues.py"))


if __name__ == "__main__":
    main(ARGS)
