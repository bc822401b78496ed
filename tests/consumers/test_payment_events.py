import random
import re
import tempfile
import unittest
from pathlib import Path

import kombu
from django.db import connection, transaction
from django.test import TransactionTestCase

from idem_project.celery import app
from orders.models import Order, OrderEvent
from tests.consumers.events import (
    DEAD,
    QUEUE,
    backends,
    body_of,
    drain,
    lock_waits,
    needs_rabbitmq_and_postgresql,
    publish,
    ready_count,
)
from tests.servers import wait_for
from tests.webhooks.deliveries import history, make_order, payment_succeeded
from tests.workers import Broker, CeleryWorker
from webhooks.models import WebhookEvent


@needs_rabbitmq_and_postgresql
class PaymentEventsConsumerTests(TransactionTestCase):
    """A real worker consumes payment-events on a virtual host of this test's own."""

    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)
        self.conn = self.broker.connection()
        self.addCleanup(self.conn.release)
        self.workers = []

    def start_worker(self, *, ready=True, **options):
        worker = CeleryWorker(self.broker.url, **options)
        self.workers.append(worker)
        self.addCleanup(worker.stop)
        return worker.wait_until_ready() if ready else worker

    def stop_workers(self):
        for worker in self.workers:
            worker.stop()

    def wait_for_event(self, event_id, *, deliveries=1, timeout=60):
        def seen():
            event = WebhookEvent.objects.filter(event_id=event_id).first()
            return event is not None and event.redeliveries + 1 >= deliveries

        try:
            wait_for(seen, timeout=timeout, what=f"event {event_id} applied")
        except AssertionError:
            print("\n".join(w.output() for w in self.workers))  # noqa: T201
            raise
        return WebhookEvent.objects.get(event_id=event_id)

    def test_a_valid_event_is_applied_as_the_webhook_would_and_acknowledged(self):
        order = make_order()
        self.start_worker()
        publish(self.conn, payment_succeeded(order.pk, event_id="evt_broker_1"))
        event = self.wait_for_event("evt_broker_1")
        self.assertEqual((event.outcome, event.source), ("processed", "broker"))
        order.refresh_from_db()
        self.assertEqual(history(order), ["pending", "processing", "completed"])
        self.stop_workers()
        self.assertEqual(ready_count(self.conn, QUEUE), 0)

    def test_the_same_message_published_five_times_has_one_effect(self):
        order = make_order()
        self.start_worker()
        publish(self.conn, payment_succeeded(order.pk, event_id="evt_five"), times=5)
        event = self.wait_for_event("evt_five", deliveries=5)
        self.assertEqual((event.outcome, event.redeliveries), ("processed", 4))
        order.refresh_from_db()
        self.assertEqual(history(order), ["pending", "processing", "completed"])
        self.stop_workers()
        self.assertEqual(ready_count(self.conn, QUEUE), 0)

    def test_messages_that_are_not_signed_events_go_to_the_dead_queue_once(self):
        order = make_order()
        poison = {
            "invalid JSON": (b"{not json", "sign"),
            "bad signature": (b'{"id": "evt_x", "type": "t"}', "sha256=" + "0" * 64),
            "no signature": (b'{"id": "evt_y", "type": "t"}', None),
            "not an object": (b"[1, 2]", "sign"),
            "id not a string": (b'{"id": 5, "type": "t"}', "sign"),
        }
        for body, sig in poison.values():
            publish(self.conn, body, sig=sig, headers={"x-provider": "test"})
        publish(self.conn, payment_succeeded(order.pk, event_id="evt_after"))
        self.start_worker()
        event = self.wait_for_event("evt_after")
        self.assertEqual(event.outcome, "processed")
        self.assertEqual(WebhookEvent.objects.count(), 1)
        self.stop_workers()
        dead = drain(self.conn, DEAD)
        self.assertEqual(
            [body_of(m) for m in dead], [body for body, _ in poison.values()]
        )
        reasons = [m.headers["x-dead-reason"] for m in dead]
        self.assertTrue(reasons[0].startswith("parse_error: "), reasons)
        self.assertTrue(reasons[1].startswith("invalid_signature: "), reasons)
        self.assertTrue(reasons[2].startswith("invalid_signature: "), reasons)
        self.assertTrue(reasons[3].startswith("invalid: "), reasons)
        self.assertIn('"id"', reasons[4])
        for message in dead:
            self.assertEqual(message.headers["x-provider"], "test")
        self.assertEqual(ready_count(self.conn, QUEUE), 0)
        self.assertEqual(ready_count(self.conn, DEAD), 0)

    def test_an_error_of_no_known_class_is_retried_ten_times_then_sent_aside(self):
        order, other = make_order(), make_order()
        worker = self.start_worker(include=["tests.consumers.faults"])
        publish(self.conn, payment_succeeded(order.pk, event_id="evt_error_once_1"))
        publish(self.conn, payment_succeeded(other.pk, event_id="evt_error_always"))
        self.assertEqual(self.wait_for_event("evt_error_once_1").outcome, "processed")
        wait_for(
            lambda: ready_count(self.conn, DEAD) == 1,
            timeout=120,
            what=f"the failing event sent aside\n{worker.output()}",
        )
        log = worker.output(tail=10**7)
        self.stop_workers()
        (dead,) = drain(self.conn, DEAD)
        self.assertEqual(
            dead.headers["x-dead-reason"],
            "error: PaymentFault: cannot apply evt_error_always",
        )
        raised = "tests.consumers.faults.PaymentFault: cannot apply evt_error_always"
        self.assertEqual(log.count(raised), 10)
        self.assertFalse(
            WebhookEvent.objects.filter(event_id="evt_error_always").exists()
        )
        self.assertEqual(ready_count(self.conn, QUEUE), 0)

    def test_a_worker_killed_while_applying_loses_nothing_and_applies_once(self):
        """The kill lands inside the event's transaction, blocked on the order's lock.

        The test holds the order's row lock, so the worker's transaction has
        inserted the event and waits in the transition. The broker gives the
        unacknowledged message to the next worker; the killed session's
        transaction never commits.
        """
        order = make_order()
        first = self.start_worker()
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=order.pk)
            publish(self.conn, payment_succeeded(order.pk, event_id="evt_killed"))
            wait_for(lambda: lock_waits() >= 1, timeout=60, what="apply blocked")
            first.kill()
        self.start_worker()
        event = self.wait_for_event("evt_killed")
        self.assertEqual((event.outcome, event.redeliveries), ("processed", 0))
        order.refresh_from_db()
        self.assertEqual(history(order), ["pending", "processing", "completed"])
        self.stop_workers()
        self.assertEqual(ready_count(self.conn, QUEUE), 0)

    def test_a_pool_process_replaced_after_events_shares_no_connection(self):
        """The consumer used the database in the main process before the fork.

        Without care the new pool process would inherit the main process's
        pooled connections and talk over the same socket; its connection must
        be a backend of its own.
        """
        orders = [make_order() for _ in range(2)]
        worker = self.start_worker(include=["tests.consumers.tasks"])
        publish(self.conn, payment_succeeded(orders[0].pk, event_id="evt_fork_1"))
        self.wait_for_event("evt_fork_1")
        main_backends = backends()
        (old_pid,) = worker.pool_pids()
        worker.kill_pool()
        wait_for(
            lambda: worker.pool_pids() and worker.pool_pids() != [old_pid],
            timeout=60,
            what="a new pool process",
        )
        task = app.send_task("tests.consumers.tasks.backend_pid", connection=self.conn)
        done = re.compile(rf"backend_pid\[{task.id}\] succeeded in [0-9.e-]+s: (\d+)")
        match = wait_for(lambda: done.search(worker.output()), 60, "the task run")
        self.assertNotIn(int(match.group(1)), main_backends)
        publish(self.conn, payment_succeeded(orders[1].pk, event_id="evt_fork_2"))
        self.wait_for_event("evt_fork_2")
        for order in orders:
            order.refresh_from_db()
            self.assertEqual(order.status, "completed")

    def test_four_workers_with_thirty_percent_duplicates_apply_each_event_once(self):
        orders = [make_order() for _ in range(140)]
        events = [payment_succeeded(o.pk, event_id=f"evt_s{o.pk}") for o in orders]
        rng = random.Random(16)  # noqa: S311  a fixed, repeatable stream
        stream = events + rng.choices(events, k=60)
        rng.shuffle(stream)
        # Started together, then waited for: each takes seconds to boot.
        for worker in [self.start_worker(ready=False) for _ in range(4)]:
            worker.wait_until_ready()
        for event in stream:
            publish(self.conn, event)

        def all_seen():
            deliveries = sum(
                1 + n
                for n in WebhookEvent.objects.values_list("redeliveries", flat=True)
            )
            return deliveries >= len(stream)

        wait_for(all_seen, timeout=180, what="every message consumed")
        self.assertEqual(WebhookEvent.objects.count(), 140)
        self.assertEqual(
            set(WebhookEvent.objects.values_list("outcome", flat=True)), {"processed"}
        )
        self.assertEqual(Order.objects.filter(status="completed").count(), len(orders))
        self.assertEqual(OrderEvent.objects.count(), 3 * len(orders))
        self.stop_workers()
        self.assertEqual(ready_count(self.conn, QUEUE), 0)
        self.assertEqual(ready_count(self.conn, DEAD), 0)


@unittest.skipUnless(
    connection.vendor == "postgresql",
    "needs PostgreSQL: the worker is another process and shares the test database",
)
class FilesystemTransportTests(TransactionTestCase):
    """Without CELERY_BROKER_URL the worker reads payment-events from kombu's files."""

    def test_a_signed_event_on_the_filesystem_transport_is_applied(self):
        var = tempfile.TemporaryDirectory()
        self.addCleanup(var.cleanup)
        folders = {
            name: Path(var.name, "broker", name) for name in ("queue", "control")
        }
        for folder in folders.values():
            folder.mkdir(parents=True)
        order = make_order()
        worker = CeleryWorker("filesystem://", env={"VAR_DIR": var.name})
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        options = {
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "control_folder": str(folders["control"]),
        }
        with kombu.Connection("filesystem://", transport_options=options) as conn:
            publish(conn, b"[]")
            publish(conn, payment_succeeded(order.pk, event_id="evt_files"))
            wait_for(
                lambda: WebhookEvent.objects.filter(event_id="evt_files").exists(),
                timeout=60,
                what="event applied",
            )
            worker.stop()
            dead = drain(conn, DEAD)
        self.assertEqual([body_of(m) for m in dead], [b"[]"])
        order.refresh_from_db()
        self.assertEqual(order.status, "completed")
