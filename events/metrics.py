"""The gauge of pending webhook deliveries, read from the database at scrape time."""

from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily, Metric

from events.models import WebhookDelivery
from observability.metrics import scrape_time_register


class PendingDeliveriesCollector:
    """``webhook_deliveries_pending``: deliveries neither delivered nor failed."""

    def describe(self) -> list[Metric]:
        """Describe the gauge without reading the database (at registration)."""
        return [GaugeMetricFamily("webhook_deliveries_pending", self._help)]

    def collect(self) -> Iterator[Metric]:
        """Yield the gauge with the count read now; left out while the database is down."""
        try:
            pending = WebhookDelivery.objects.pending().count()
        except DatabaseError:
            return
        yield GaugeMetricFamily("webhook_deliveries_pending", self._help, value=pending)

    _help = "Webhook deliveries neither delivered nor failed."


scrape_time_register(PendingDeliveriesCollector())
