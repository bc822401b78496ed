from django.test import TestCase

from events.models import Event, WebhookDelivery, WebhookEndpoint
from tests.observability.test_metrics import metrics_from
from tests.webhooks.deliveries import make_order


class PendingDeliveriesGaugeTests(TestCase):
    def scrape(self):
        text = metrics_from("127.0.0.1").content.decode()
        [line] = [
            line
            for line in text.splitlines()
            if line.startswith("webhook_deliveries_pending ")
        ]
        return float(line.split()[1])

    def test_the_gauge_counts_pending_deliveries_when_scraped(self):
        self.assertEqual(self.scrape(), 0)
        order = make_order()
        event = Event.objects.get(resource_id=order.pk)
        for state in ("pending", "delivered", "failed"):
            endpoint = WebhookEndpoint.objects.create(
                url="http://127.0.0.1:9/", events=["*"]
            )
            WebhookDelivery.of(event, endpoint, state=state).save()
        self.assertEqual(self.scrape(), 1)
