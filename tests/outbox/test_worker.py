"""The outbox end to end: gunicorn, a real Celery worker on RabbitMQ, a real SMTP server."""

import json
import subprocess
import urllib.error
import urllib.request

from celery import current_app
from django.test import TransactionTestCase

from outbox.models import OutboxMessage
from tests.concurrency import needs_postgresql
from tests.outbox.smtp import SmtpServer
from tests.servers import Gunicorn, free_port, wait_for
from tests.workers import Broker, CeleryWorker, needs_rabbitmq, rabbitmq_available

PASSWORD = "correct horse battery"


def sign_up(web, email, timeout=5):
    """POST a sign-up; the timeout is the request's: it never waits for broker or SMTP."""
    body = {"email": email, "name": "Ada", "password": PASSWORD}
    request = urllib.request.Request(  # noqa: S310  a local http URL
        web.url("/api/users/"),
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def make_message(key):
    payload = {"to": ["ada@example.com"], "subject": "Welcome", "body": "Hello"}
    return OutboxMessage.objects.create(
        topic="mail.welcome", payload=payload, dedupe_key=key
    )


@needs_rabbitmq
@needs_postgresql
class OutboxWorkerTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)

    def smtp(self, **options):
        smtp = SmtpServer(**options).__enter__()
        self.addCleanup(smtp.__exit__)
        return smtp

    def web(self, broker_url=None):
        web = Gunicorn(
            workers=1, env={"CELERY_BROKER_URL": broker_url or self.broker.url}
        )
        self.addCleanup(web.stop)
        web.wait_until_ready()
        return web

    def worker(self, smtp, *, env=None, **options):
        worker = CeleryWorker(
            self.broker.url, env={**smtp.env(), **(env or {})}, **options
        )
        self.addCleanup(worker.stop)
        return worker.wait_until_ready()

    def hand_over(self, key):
        with self.broker.connection() as conn:
            current_app.send_task("outbox.deliver", args=[key], connection=conn)

    def wait_until_done(self, worker, count=1):
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").count() == count,
            timeout=120,
            what=f"{count} message(s) sent\n{worker.output()}",
        )

    def test_sign_up_is_201_while_smtp_refuses_then_one_mail_arrives(self):
        smtp = self.smtp(refuse_first=4)
        web = self.web()
        worker = self.worker(smtp)
        self.assertEqual(sign_up(web, "ada@example.com"), 201)
        self.wait_until_done(worker)
        message = OutboxMessage.objects.get()
        self.assertEqual(message.attempts, 5)
        self.assertEqual(len(smtp.attempts), 5)
        self.assertEqual(len(smtp.accepted), 1)
        self.assertEqual(smtp.accepted[0]["To"], "ada@example.com")
        self.assertEqual(set(smtp.attempts), {smtp.accepted[0]["Message-ID"]})

    def test_worker_killed_while_sending_leaves_the_mail_to_the_next_one(self):
        smtp = self.smtp(hold_first=True)
        worker = self.worker(smtp, env={"OUTBOX_LEASE": "3"})
        make_message("welcome:kill")
        self.hand_over("welcome:kill")
        wait_for(smtp.holding.is_set, timeout=60, what="the first attempt at SMTP")
        worker.kill_pool()
        smtp.release()
        self.wait_until_done(worker)
        self.assertEqual(len(smtp.accepted), 1)
        self.assertEqual(smtp.accepted[0]["Message-ID"], smtp.attempts[0])
        self.assertEqual(OutboxMessage.objects.get().attempts, 2)

    def test_the_same_message_handed_over_five_times_is_sent_once(self):
        smtp = self.smtp()
        worker = self.worker(smtp, concurrency=2)
        make_message("welcome:five")
        for _ in range(5):
            self.hand_over("welcome:five")
        wait_for(
            lambda: worker.output(tail=10**7).count("succeeded in") == 5,
            timeout=120,
            what=f"five deliveries finished\n{worker.output()}",
        )
        self.assertEqual(len(smtp.accepted), 1)
        self.assertEqual(OutboxMessage.objects.get().state, "done")

    def test_the_web_hands_over_on_a_new_connection_after_the_broker_closed_its_own(
        self,
    ):
        smtp = self.smtp()
        web = self.web()
        worker = self.worker(smtp)
        self.assertEqual(sign_up(web, "ada@example.com"), 201)
        self.wait_until_done(worker)
        command = ["rabbitmqctl", "-q", "close_all_connections", "--vhost"]
        subprocess.run([*command, self.broker.vhost, "test"], check=True, timeout=60)
        # No scheduler runs: only the web's own hand-over can deliver this one.
        self.assertEqual(sign_up(web, "bob@example.com"), 201)
        self.wait_until_done(worker, count=2)
        self.assertEqual(len(smtp.accepted), 2)
        self.assertNotIn("stays pending for the relay", web.output())

    def test_a_connection_lost_during_the_hand_over_leaves_it_to_the_relay(self):
        """The publish reaches RabbitMQ, its confirm never comes back: sent once."""
        forwarder, url = self.broker.forwarded()
        self.addCleanup(forwarder.close)
        smtp = self.smtp()
        web = self.web(broker_url=url)
        self.assertEqual(sign_up(web, "ada@example.com"), 201)
        self.assertNotIn("stays pending for the relay", web.output())
        forwarder.cut_on_next_send()
        self.assertEqual(sign_up(web, "bob@example.com"), 201)
        self.assertIn("stays pending for the relay", web.output())
        # RabbitMQ has both tasks; the web knows of one: the other stays
        # pending, and whichever copy comes first sends it.
        with self.broker.connection() as conn:
            _, waiting, _ = conn.default_channel.queue_declare("celery", passive=True)
        self.assertEqual(waiting, 2)
        forwarder.restore()
        env = {"OUTBOX_RELAY_INTERVAL": "1", "OUTBOX_RELAY_AFTER": "1"}
        worker = self.worker(smtp, env=env, beat=True)
        self.wait_until_done(worker, count=2)
        self.assertEqual(
            sorted(m["To"] for m in smtp.accepted),
            ["ada@example.com", "bob@example.com"],
        )

    def test_broker_unreachable_from_the_web_then_the_scheduler_hands_over(self):
        smtp = self.smtp()
        web = self.web(broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//")
        self.assertEqual(sign_up(web, "ada@example.com"), 201)
        self.assertEqual(OutboxMessage.objects.get().state, "pending")
        self.assertIn("stays pending for the relay", web.output())
        env = {"OUTBOX_RELAY_INTERVAL": "1", "OUTBOX_RELAY_AFTER": "1"}
        worker = self.worker(smtp, env=env, beat=True)
        self.wait_until_done(worker)
        self.assertEqual(len(smtp.accepted), 1)
        self.assertIsNotNone(OutboxMessage.objects.get().relayed_at)


@needs_rabbitmq
@needs_postgresql
class RabbitMQRestartTests(TransactionTestCase):
    """Restarts the shared RabbitMQ: every other test using it sees the restart."""

    def test_messages_waiting_in_the_broker_survive_a_restart(self):
        broker = Broker()
        self.addCleanup(broker.delete)
        smtp = SmtpServer().__enter__()
        self.addCleanup(smtp.__exit__)
        web = Gunicorn(workers=1, env={"CELERY_BROKER_URL": broker.url})
        self.addCleanup(web.stop)
        web.wait_until_ready()
        for n in range(3):
            self.assertEqual(sign_up(web, f"user{n}@example.com"), 201)
        web.stop()
        with broker.connection() as conn:
            waiting = conn.default_channel.queue_declare("celery", passive=True)
        self.assertEqual(waiting.message_count, 3)
        for command in (["stop_app"], ["start_app"]):
            subprocess.run(["rabbitmqctl", "-q", *command], check=True, timeout=120)
        wait_for(rabbitmq_available, timeout=60, what="RabbitMQ back")
        worker = CeleryWorker(broker.url, env=smtp.env())
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").count() == 3,
            timeout=120,
            what=f"three mails sent\n{worker.output()}",
        )
        self.assertEqual(len(smtp.accepted), 3)
