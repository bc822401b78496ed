import math
import time
from datetime import timedelta

from django.core.cache import cache
from django.test import RequestFactory, TestCase
from django.utils import timezone

from observability.views import MetricsView
from outbox.models import OutboxMessage
from outbox.tasks import RELAY_LAST_RUN
from tests.observability.helpers import sample_value


def metrics_text():
    request = RequestFactory().get("/metrics", REMOTE_ADDR="127.0.0.1")
    return MetricsView.as_view()(request).content.decode()


def make_message(key, **fields):
    return OutboxMessage.objects.create(
        topic="mail.welcome", payload={}, dedupe_key=key, **fields
    )


class DatabaseGaugeTests(TestCase):
    def setUp(self):
        cache.delete(RELAY_LAST_RUN)

    def test_with_nothing_pending_the_gauges_are_zero_and_the_scheduler_never_ran(self):
        text = metrics_text()
        self.assertEqual(sample_value(text, "outbox_pending_messages"), 0)
        self.assertEqual(sample_value(text, "outbox_failed_messages"), 0)
        self.assertEqual(sample_value(text, "outbox_oldest_pending_seconds"), 0)
        self.assertEqual(sample_value(text, "scheduler_last_run_seconds"), math.inf)

    def test_the_gauges_are_read_from_the_rows_at_each_scrape(self):
        now = timezone.now()
        make_message("a", created_at=now - timedelta(seconds=90))
        make_message("b", state="handed_over", created_at=now - timedelta(seconds=5))
        make_message("c", state="failed", created_at=now - timedelta(days=2))
        make_message("d", state="done", created_at=now - timedelta(days=3))
        cache.set(RELAY_LAST_RUN, time.time() - 12, timeout=None)
        text = metrics_text()
        self.assertEqual(sample_value(text, "outbox_pending_messages"), 2)
        self.assertEqual(sample_value(text, "outbox_failed_messages"), 1)
        oldest = sample_value(text, "outbox_oldest_pending_seconds")
        self.assertAlmostEqual(oldest, 90, delta=5)
        last_run = sample_value(text, "scheduler_last_run_seconds")
        self.assertAlmostEqual(last_run, 12, delta=5)
        OutboxMessage.objects.filter(dedupe_key="a").update(state="done")
        self.assertEqual(sample_value(metrics_text(), "outbox_pending_messages"), 1)
