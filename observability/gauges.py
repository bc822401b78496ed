"""Gauges read from the database at scrape time, not counted by any process.

Every process sees the same rows, so these need no multiprocess files: the
process that answers ``/metrics`` reads them when it is asked.
"""

import math
import time
from collections.abc import Iterator

from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from outbox.models import OutboxMessage
from outbox.tasks import RELAY_LAST_RUN


def outbox_gauges() -> list[Metric]:
    """Return the outbox's gauges: pending, failed, age of the oldest pending."""
    open_states = Q(state__in=OutboxMessage.OPEN_STATES)
    figures = OutboxMessage.objects.aggregate(
        pending=Count("pk", filter=open_states),
        failed=Count("pk", filter=Q(state=OutboxMessage.State.FAILED)),
        oldest=Min("created_at", filter=open_states),
    )
    oldest = figures["oldest"]
    age = max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
    return [
        GaugeMetricFamily(
            "outbox_pending_messages",
            "Outbox messages not yet carried out (pending or handed over).",
            value=figures["pending"],
        ),
        GaugeMetricFamily(
            "outbox_failed_messages",
            "Outbox messages that failed and wait for staff.",
            value=figures["failed"],
        ),
        GaugeMetricFamily(
            "outbox_oldest_pending_seconds",
            "Age of the oldest outbox message not yet carried out; 0 when none.",
            value=age,
        ),
    ]


def scheduler_gauge() -> Metric:
    """Return the seconds since the relay last ran (+Inf when it never did)."""
    last = cache.get(RELAY_LAST_RUN)
    seconds = max(time.time() - last, 0.0) if last is not None else math.inf
    return GaugeMetricFamily(
        "scheduler_last_run_seconds",
        "Seconds since the scheduler last ran the outbox's hand-over task.",
        value=seconds,
    )


class DatabaseGauges(Collector):
    """The gauges above; none when the database does not answer."""

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = [*outbox_gauges(), scheduler_gauge()]
        except DatabaseError:
            return
        yield from metrics
