"""The outbox's failure classes with a real worker: a database that goes away, a crash."""

import sys

from celery import current_app
from django.db import connection
from django.test import SimpleTestCase, TransactionTestCase

from outbox.models import OutboxMessage
from tests.concurrency import needs_postgresql
from tests.forwarder import Forwarder
from tests.outbox.smtp import SmtpServer
from tests.outbox.test_worker import sign_up
from tests.project.test_startup import run
from tests.servers import Gunicorn, wait_for
from tests.workers import Broker, CeleryWorker, needs_rabbitmq


def make_message(key):
    payload = {"to": ["ada@example.com"], "subject": "Welcome", "body": "Hello"}
    return OutboxMessage.objects.create(
        topic="mail.welcome", payload=payload, dedupe_key=key
    )


@needs_rabbitmq
@needs_postgresql
class OutboxFaultTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)

    def smtp(self, **options):
        smtp = SmtpServer(**options).__enter__()
        self.addCleanup(smtp.__exit__)
        return smtp

    def worker(self, smtp, *, env=None, **options):
        worker = CeleryWorker(
            self.broker.url, env={**smtp.env(), **(env or {})}, **options
        )
        self.addCleanup(worker.stop)
        return worker.wait_until_ready()

    def hand_over(self, key):
        with self.broker.connection() as conn:
            current_app.send_task("outbox.deliver", args=[key], connection=conn)

    def test_a_hand_over_the_broker_refuses_stays_pending_and_the_relay_sends_it(self):
        """A policy makes the task queue full: RabbitMQ nacks the web's publish."""
        with self.broker.connection() as conn:
            conn.default_channel.queue_declare(
                queue="celery", durable=True, auto_delete=False
            )
        self.broker.refuse_publishes("^celery$")
        web = Gunicorn(workers=1, env={"CELERY_BROKER_URL": self.broker.url})
        self.addCleanup(web.stop)
        web.wait_until_ready()
        self.assertEqual(sign_up(web, "ada@example.com"), 201)
        self.assertEqual(OutboxMessage.objects.get().state, "pending")
        self.assertIn("stays pending for the relay", web.output())
        with self.broker.connection() as conn:
            _, waiting, _ = conn.default_channel.queue_declare("celery", passive=True)
        self.assertEqual(waiting, 0)
        self.broker.accept_publishes()
        smtp = self.smtp()
        env = {"OUTBOX_RELAY_INTERVAL": "1", "OUTBOX_RELAY_AFTER": "1"}
        worker = self.worker(smtp, env=env, beat=True)
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").exists(),
            timeout=60,
            what=f"the mail sent by the relay's hand-over\n{worker.output()}",
        )
        self.assertEqual(len(smtp.accepted), 1)

    def test_a_database_error_in_the_task_is_retried_until_the_database_is_back(self):
        db = connection.settings_dict
        database = Forwarder((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
        self.addCleanup(database.close)
        url = f"postgres://{db['USER']}@127.0.0.1:{database.port}/{db['NAME']}"
        smtp = self.smtp()
        worker = self.worker(smtp, env={"DATABASE_URL": url})
        make_message("welcome:db")
        database.cut()
        self.hand_over("welcome:db")
        wait_for(
            lambda: worker.output(tail=10**6).count("Retry in") >= 2,
            timeout=60,
            what=f"two retries of the task\n{worker.output()}",
        )
        self.assertIn("OperationalError", worker.output(tail=10**6))
        database.restore()
        # No relay runs: only the task's own retries (every 20 s at most) deliver.
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").exists(),
            timeout=40,
            what=f"the mail sent once the database is back\n{worker.output()}",
        )
        self.assertEqual(len(smtp.accepted), 1)

    def test_a_message_that_kills_its_worker_five_times_fails_as_crashed(self):
        smtp = self.smtp(hold_all=True)
        worker = self.worker(smtp, env={"OUTBOX_LEASE": "1"})
        make_message("welcome:poison")
        self.hand_over("welcome:poison")
        for attempt in range(1, 6):
            wait_for(
                smtp.holding.is_set,
                timeout=60,
                what=f"attempt {attempt} at SMTP\n{worker.output()}",
            )
            smtp.holding.clear()
            worker.kill_pool()
            wait_for(
                lambda: len(worker.pool_pids()) >= 1,
                timeout=30,
                what="a new pool process",
            )
        wait_for(
            lambda: OutboxMessage.objects.filter(state="failed").exists(),
            timeout=60,
            what=f"the message failed\n{worker.output()}",
        )
        message = OutboxMessage.objects.get()
        self.assertEqual((message.last_error, message.attempts), ("crashed", 5))
        self.assertEqual(len(smtp.attempts), 5)
        self.assertEqual(smtp.accepted, [])
        # The worker goes on with the next message.
        smtp.hold_all = False
        make_message("welcome:next")
        self.hand_over("welcome:next")
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").exists(),
            timeout=60,
            what=f"the next message sent\n{worker.output()}",
        )


# Celery's own publish, as the relay and a retry make it, in a process of the
# project configured by the environment alone.
CELERY_PUBLISH = """
import django
django.setup()
from amqp.exceptions import MessageNacked
from kombu.exceptions import OperationalError
from idem_project.celery import app
print(app.conf.broker_transport_options.get("confirm_publish"))
try:
    app.send_task("outbox.relay", retry=False)
except OperationalError as error:
    print("refused" if isinstance(error.__cause__, MessageNacked) else error)
else:
    print("sent")
"""


@needs_rabbitmq
class CeleryPublishTests(SimpleTestCase):
    def test_celery_s_own_publish_raises_when_rabbitmq_refuses_it(self):
        broker = Broker()
        self.addCleanup(broker.delete)
        with broker.connection() as conn:
            conn.default_channel.queue_declare(
                queue="celery", durable=True, auto_delete=False
            )
        broker.refuse_publishes("^celery$")
        result = run(
            [sys.executable, "-c", CELERY_PUBLISH],
            CELERY_BROKER_URL=broker.url,
            DJANGO_SETTINGS_MODULE="idem_project.settings",
        )
        self.assertEqual(result.stdout.split(), ["True", "refused"], result.stderr)
