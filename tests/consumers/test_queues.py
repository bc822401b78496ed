"""Quorum queues, poison messages, confirmed dead letters and their redrive, on RabbitMQ."""

import os
import subprocess
import sys

from django.conf import settings
from django.db import connection, transaction
from django.test import TransactionTestCase

from orders.models import Order
from tests.consumers.events import (
    DEAD,
    QUEUE,
    body_of,
    drain,
    needs_rabbitmq_and_postgresql,
    publish,
    ready_count,
)
from tests.servers import database_url, wait_for
from tests.webhooks.deliveries import (
    encode,
    make_order,
    payment_succeeded,
    signature,
)
from tests.workers import Broker, CeleryWorker
from webhooks.models import WebhookEvent


def queue_types(vhost):
    """Return {queue name: type} of the virtual host, as RabbitMQ lists them."""
    output = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return dict(line.split("\t") for line in output.splitlines()[1:] if "\t" in line)


def queue_counts(vhost):
    """Return {queue name: (messages, ready)}: held for dead-lettering counts too."""
    output = subprocess.run(
        [
            *("rabbitmqctl", "-q", "list_queues", "-p", vhost),
            *("name", "messages", "messages_ready"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rows = [line.split("\t") for line in output.splitlines()[1:]]
    return {row[0]: (int(row[1]), int(row[2])) for row in rows if len(row) == 3}


def waiting_sessions():
    """Return the backend pids of the test database's sessions waiting on a lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return {row[0] for row in cursor.fetchall()}


@needs_rabbitmq_and_postgresql
class QuorumQueueTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)
        self.conn = self.broker.connection()
        self.addCleanup(self.conn.release)

    def start_worker(self, *, ready=True):
        worker = CeleryWorker(self.broker.url)
        self.addCleanup(worker.stop)
        return worker.wait_until_ready() if ready else worker

    def wait_applied(self, event_id, worker):
        wait_for(
            lambda: WebhookEvent.objects.filter(event_id=event_id).exists(),
            timeout=60,
            what=f"event {event_id} applied\n{worker.output()}",
        )

    def manage(self, *args):
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.broker.url,
        }
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    def test_a_message_that_kills_the_worker_is_dead_after_five_deliveries(self):
        """Each worker is killed while the event's transaction waits on a lock."""
        poisoned, after = make_order(), make_order()
        body = payment_succeeded(poisoned.pk, event_id="evt_poison")
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=poisoned.pk)
            publish(self.conn, body)
            blocked = set()
            for delivery in range(1, 6):
                # Blocked on the message, it may never print that it is ready.
                worker = self.start_worker(ready=False)
                # A killed worker's session may wait on the lock until it
                # ends: only a session not seen before is this delivery's.
                blocked |= wait_for(
                    lambda seen=frozenset(blocked): waiting_sessions() - seen,
                    timeout=60,
                    what=f"delivery {delivery} blocked\n{worker.output()}",
                )
                worker.kill()
            wait_for(
                lambda: ready_count(self.conn, DEAD) == 1,
                timeout=30,
                what="the message dead-lettered by the broker",
            )
        worker = self.start_worker()
        publish(self.conn, payment_succeeded(after.pk, event_id="evt_after"))
        self.wait_applied("evt_after", worker)
        self.assertFalse(WebhookEvent.objects.filter(event_id="evt_poison").exists())
        worker.stop()
        (dead,) = drain(self.conn, DEAD)
        self.assertEqual(body_of(dead), encode(body))
        self.assertEqual(ready_count(self.conn, QUEUE), 0)
        types = queue_types(self.broker.vhost)
        self.assertEqual((types[QUEUE], types[DEAD]), ("quorum", "quorum"))

    def test_classic_queues_of_an_earlier_version_become_quorum_queues(self):
        order = make_order()
        channel = self.conn.channel()
        for name in (QUEUE, DEAD):
            channel.queue_declare(queue=name, durable=True, auto_delete=False)
        body = encode(payment_succeeded(order.pk, event_id="evt_classic"))
        producer = self.conn.Producer()
        producer.publish(
            body,
            routing_key=QUEUE,
            headers={"x-signature": signature(body)},
            content_type="application/json",
            content_encoding="utf-8",
        )
        producer.publish(b"kept", routing_key=DEAD, content_type="text/plain")
        self.assertEqual(queue_types(self.broker.vhost)[QUEUE], "classic")
        worker = self.start_worker()
        self.wait_applied("evt_classic", worker)
        types = queue_types(self.broker.vhost)
        self.assertEqual((types[QUEUE], types[DEAD]), ("quorum", "quorum"))
        self.assertNotIn(QUEUE + ".migrating", types)
        worker.stop()
        self.assertEqual([body_of(m) for m in drain(self.conn, DEAD)], [b"kept"])

    def test_redrive_moves_every_dead_letter_back_and_each_is_applied_once(self):
        orders = [make_order() for _ in range(3)]
        for order in orders:
            event = payment_succeeded(order.pk, event_id=f"evt_redrive_{order.pk}")
            publish(self.conn, event, to=DEAD, headers={"x-dead-reason": "error: X"})
        publish(self.conn, b"[]", to=DEAD)
        self.assertIn(
            "4 dead letter(s)", self.manage("redrive_dead_letters", QUEUE, "--dry-run")
        )
        self.assertEqual(ready_count(self.conn, DEAD), 4)
        out = self.manage("redrive_dead_letters", QUEUE)
        self.assertIn("Moved 4 dead letter(s)", out)
        worker = self.start_worker()
        for order in orders:
            self.wait_applied(f"evt_redrive_{order.pk}", worker)
        wait_for(
            lambda: ready_count(self.conn, DEAD) == 1,
            timeout=30,
            what="the malformed one dead again",
        )
        worker.stop()
        (dead,) = drain(self.conn, DEAD)
        self.assertEqual(body_of(dead), b"[]")
        self.assertTrue(dead.headers["x-dead-reason"].startswith("invalid"))
        self.assertEqual(WebhookEvent.objects.count(), 3)

    def test_a_dead_letter_the_broker_refuses_leaves_its_original_on_the_queue(self):
        """A policy makes the dead queue full: RabbitMQ refuses (nacks) each copy.

        The worker never acks the original, so it is delivered again; past the
        delivery limit the broker's own dead-lettering (at least once) keeps
        it on the queue until the dead queue takes it. It is never lost.
        """
        publish(self.conn, b"{not json")
        # A quorum queue refuses once it is over its length: one is there.
        publish(self.conn, b"{}", to=DEAD)
        self.broker.refuse_publishes(r"^payment-events\.dead$")
        worker = self.start_worker()
        refused = "not published to payment-events.dead"
        wait_for(
            lambda: worker.output().count(refused) == 5,
            timeout=60,
            what=f"five refused dead letters\n{worker.output()}",
        )
        output = worker.output()
        worker.stop()
        wait_for(
            lambda: queue_counts(self.broker.vhost).get(QUEUE) == (1, 0),
            timeout=30,
            what="the message kept by the broker",
        )
        self.assertEqual(queue_counts(self.broker.vhost)[DEAD], (1, 1))
        self.assertEqual(output.count(refused), 5)
