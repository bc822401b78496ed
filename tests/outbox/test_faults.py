"""The outbox's failure classes with a real worker: a database that goes away, a crash."""

from celery import current_app
from django.db import connection
from django.test import TransactionTestCase

from outbox.models import OutboxMessage
from tests.concurrency import needs_postgresql
from tests.forwarder import Forwarder
from tests.outbox.smtp import SmtpServer
from tests.servers import wait_for
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
