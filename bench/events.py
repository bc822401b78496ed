"""Events: one relay's publishing rate, and commit-to-publish and -delivery latency.

Run from the project root, with PostgreSQL (a database of its own, created
and dropped) and the local RabbitMQ (a virtual host of its own, deleted):

    .venv/bin/python bench/events.py [--database-url URL] [--quick]

Throughput: with a durable queue bound to ``#`` on ``idem.events`` (so
RabbitMQ confirms each once it has stored it) and a worker (``celery -A
idem_project worker``) ready, 5,000 ``order.created`` events (2,000 with
``--quick``) are committed in one transaction; the worker's relay publishes
them, and the rate is the events after its first batch over the time from
its first batch's ``published_at`` to its last.

Latency: with a webhook endpoint on a local receiver that answers 200 at
once, a worker with two pool processes and its idle relay (it polls every
0.2 s), orders are created one per transaction, 20 a second (1,000 of them;
200 with ``--quick``). For each event, the time from the commit to the
broker's confirm (the event's ``published_at``, set by the relay once
confirmed) and to the receiver's POST.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import django


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    url = "postgres://root@127.0.0.1:5432/bench_events"
    parser.add_argument("--database-url", default=url, help="created and dropped")
    parser.add_argument("--quick", action="store_true", help="fewer events")
    return parser.parse_args()


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")
if __name__ == "__main__":
    ARGS = parse_args()
    os.environ["DATABASE_URL"] = ARGS.database_url
django.setup()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def bound_queue(broker: Any) -> Any:
    """Declare the durable queue bound to every event; return it."""
    import kombu

    exchange = kombu.Exchange("idem.events", type="topic", durable=True)
    queue = kombu.Queue(
        "bench-events", exchange=exchange, routing_key="#", durable=True
    )
    with broker.connection() as conn:
        queue(conn.default_channel).declare()
    return queue


def throughput(broker, count: int) -> float:  # noqa: ANN001
    from django.db import transaction
    from django.db.models import Max, Min

    from events.models import Event
    from orders.services import ImportItem, orders_import
    from tests.factories import make_user
    from tests.workers import CeleryWorker

    owner = make_user(email=f"bench-{uuid.uuid4().hex[:8]}@example.com")
    worker = CeleryWorker(broker.url)
    try:
        worker.wait_until_ready()
        # One commit: the ready worker's relay finds every event at once.
        with transaction.atomic():
            for start in range(0, count, 1000):
                orders_import(
                    owner=owner,
                    items=[
                        ImportItem(client_id=f"t-{n}", product_id=1, quantity=1)
                        for n in range(start, min(start + 1000, count))
                    ],
                )
        while Event.objects.filter(published_at__isnull=True).exists():
            time.sleep(0.2)
    finally:
        worker.stop()
    times = Event.objects.aggregate(first=Min("published_at"), last=Max("published_at"))
    first_batch = Event.objects.filter(published_at=times["first"]).count()
    seconds = (times["last"] - times["first"]).total_seconds()
    return (count - first_batch) / seconds


def latency(broker: Any, count: int) -> tuple[list[float], list[float]]:
    from events.models import Event, WebhookEndpoint
    from orders.models import Order
    from tests.events.processes import FAST_ENV
    from tests.events.receiver import Receiver
    from tests.factories import make_user
    from tests.workers import CeleryWorker

    receiver = Receiver()
    WebhookEndpoint.objects.create(url=receiver.url, events=["order.created"])
    worker = CeleryWorker(broker.url, concurrency=2, env=FAST_ENV)
    owner = make_user(email=f"bench-{uuid.uuid4().hex[:8]}@example.com")
    committed: dict[int, float] = {}
    try:
        worker.wait_until_ready()
        time.sleep(2)  # the relay's first look at the table
        for n in range(count):
            order, _ = Order.objects.get_or_create_by_client_id(
                owner=owner, client_id=f"l-{n}", product_id=1, quantity=1
            )
            committed[order.pk] = time.time()
            time.sleep(0.05)
        deadline = time.time() + 60
        while len(receiver.requests) < count and time.time() < deadline:
            time.sleep(0.2)
    finally:
        worker.stop()
        receiver.stop()
    rows = Event.objects.filter(resource_id__in=committed, resource="order")
    ids = dict(rows.values_list("id", "resource_id"))
    # Set when the broker has confirmed the event, before the relay commits.
    published_at = dict(rows.values_list("id", "published_at"))
    delivered: dict[str, float] = {}
    for (headers, _), at in zip(receiver.requests, receiver.arrived, strict=True):
        delivered.setdefault(headers["Idem-Event-Id"], at)
    published = [
        published_at[i].timestamp() - committed[pk]
        for i, pk in ids.items()
        if published_at[i] is not None
    ]
    posted = [
        delivered[str(i)] - committed[pk]
        for i, pk in ids.items()
        if str(i) in delivered
    ]
    return published, posted


def main(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connections
    from keytable import Database
    from targets import DELIVERY_P99, EVENT_P99, EVENTS_PER_SECOND, judged

    from tests.workers import Broker

    database = Database(args.database_url)
    database.create()
    broker = Broker()
    try:
        call_command("migrate", verbosity=0)
        bound_queue(broker)
        rate = throughput(broker, 2000 if args.quick else 5000)
        print(f"one worker's relay: {rate:8.1f} events/s")
        published, delivered = latency(broker, 200 if args.quick else 1000)
    finally:
        connections.close_all()
        broker.delete()
        database.drop()
    figures = {EVENTS_PER_SECOND: rate}
    for name, values, title in (
        ("event published", published, EVENT_P99),
        ("webhook delivered", delivered, DELIVERY_P99),
    ):
        if values:
            p50, p99 = statistics.median(values), percentile(values, 0.99)
            print(
                f"{name:18} n={len(values)} median {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
            )
            figures[title] = p99
    print(judged(figures, "events.py"))


if __name__ == "__main__":
    main(ARGS)
