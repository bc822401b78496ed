"""A delivery task whose database fails is retried, not left holding its slot for a minute."""

from celery import current_app
from django.db import connection
from django.test import TransactionTestCase

from core.clock import db_now
from events.models import WebhookDelivery, WebhookEndpoint
from tests.consumers.events import needs_rabbitmq_and_postgresql
from tests.events.helpers import relay
from tests.events.processes import FAST_ENV
from tests.events.receiver import Receiver
from tests.forwarder import Forwarder
from tests.servers import wait_for
from tests.webhooks.deliveries import make_order
from tests.workers import Broker, CeleryWorker


@needs_rabbitmq_and_postgresql
class DatabaseFailureTests(TransactionTestCase):
    def test_the_task_is_retried_until_the_database_is_back_then_delivers(self):
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        WebhookEndpoint.objects.create(url=receiver.url, events=["*"])
        make_order()
        relay()
        delivery = WebhookDelivery.objects.get()
        # Handed over as the relay does: no relay hands it over again for a minute.
        WebhookDelivery.objects.update(dispatched_at=db_now())
        broker = Broker()
        self.addCleanup(broker.delete)
        db = connection.settings_dict
        database = Forwarder((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
        self.addCleanup(database.close)
        url = f"postgres://{db['USER']}@127.0.0.1:{database.port}/{db['NAME']}"
        worker = CeleryWorker(broker.url, env={**FAST_ENV, "DATABASE_URL": url})
        self.addCleanup(worker.stop)
        worker.wait_until_ready()
        database.cut()
        with broker.connection() as conn:
            current_app.send_task(
                "events.deliver", args=[delivery.pk], queue="webhooks", connection=conn
            )
        wait_for(
            lambda: worker.output(tail=10**6).count("Retry in") >= 2,
            timeout=60,
            what=f"two retries of the task\n{worker.output()}",
        )
        database.restore()
        # Well within the minute after which a relay would hand it over again.
        wait_for(
            lambda: WebhookDelivery.objects.filter(state="delivered").exists(),
            timeout=40,
            what=f"the delivery made once the database is back\n{worker.output()}",
        )
        self.assertEqual(len(receiver.delivered()), 1)
