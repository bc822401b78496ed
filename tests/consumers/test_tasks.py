import uuid

from django.db import transaction
from django.test import TransactionTestCase

from idem_project.celery import app
from idempotency import store
from idempotency.models import IdempotencyKey
from tests.consumers.events import needs_rabbitmq_and_postgresql
from tests.servers import wait_for
from tests.webhooks.deliveries import make_order
from tests.workers import Broker, CeleryWorker

TASK = "tests.consumers.tasks.order_note"


@needs_rabbitmq_and_postgresql
class IdempotentTaskTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)

    def test_a_task_message_delivered_twice_runs_its_effect_once(self):
        order = make_order()
        worker = CeleryWorker(self.broker.url, include=["tests.consumers.tasks"])
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        task_id = str(uuid.uuid4())
        with app.connection_for_write(self.broker.url) as conn:
            for _ in range(2):
                app.send_task(
                    TASK,
                    kwargs={"message_id": "m-1", "order_id": order.pk},
                    task_id=task_id,
                    connection=conn,
                )
        done = f"{TASK}[{task_id}] succeeded"
        wait_for(lambda: worker.output().count(done) == 2, 60, "both deliveries run")
        self.assertEqual(order.events.count(), 2)
        key = IdempotencyKey.objects.get(key="order-note-m-1")
        self.assertEqual((key.state, bytes(key.response_body)), ("completed", b"2"))

    def test_a_task_that_finds_its_key_in_flight_is_retried_then_runs_once(self):
        order = make_order()
        worker = CeleryWorker(self.broker.url, include=["tests.consumers.tasks"])
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        task_id = str(uuid.uuid4())
        held = store.Attempt(
            owner=0,
            scope="function:tests.consumers.tasks.order_note",
            key="order-note-m-2",
            fingerprint="0" * 64,
            method="CALL",
            path="tests.consumers.tasks.order_note",
        )
        with transaction.atomic():
            self.assertIsNone(store.claim(held))
            with app.connection_for_write(self.broker.url) as conn:
                app.send_task(
                    TASK,
                    kwargs={"message_id": "m-2", "order_id": order.pk},
                    task_id=task_id,
                    connection=conn,
                )
            retried = f"{TASK}[{task_id}] retry: Retry in 1s"
            wait_for(lambda: retried in worker.output(), 60, "the task retried")
            transaction.set_rollback(True)
        done = f"{TASK}[{task_id}] succeeded"
        wait_for(lambda: done in worker.output(), 60, "the retry run")
        self.assertEqual(order.events.count(), 2)
