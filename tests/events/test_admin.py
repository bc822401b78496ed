from django.test import TestCase, override_settings

from events.models import WebhookDelivery, WebhookEndpoint
from tests.events.helpers import FAST
from tests.factories import make_staff
from tests.webhooks.deliveries import make_order


@override_settings(EVENTS=FAST)
class WebhookAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(is_superuser=True)

    def setUp(self):
        self.client.force_login(self.staff)

    def test_the_secret_is_shown_once_after_creation_and_never_again(self):
        response = self.client.post(
            "/admin/events/webhookendpoint/add/",
            {
                "url": "http://127.0.0.1:9/hook",
                "events": ["order.completed"],
                "enabled": "on",
            },
            follow=True,
        )
        endpoint = WebhookEndpoint.objects.get()
        self.assertContains(response, endpoint.secret)
        for path in (
            f"/admin/events/webhookendpoint/{endpoint.pk}/change/",
            "/admin/events/webhookendpoint/",
        ):
            with self.subTest(path=path):
                page = self.client.get(path)
                self.assertEqual(page.status_code, 200)
                self.assertNotContains(page, endpoint.secret)

    @override_settings(EVENTS={**FAST, "WEBHOOK_ALLOW_PRIVATE": False})
    def test_a_private_url_is_refused(self):
        response = self.client.post(
            "/admin/events/webhookendpoint/add/",
            {"url": "http://127.0.0.1:9/hook", "events": ["*"], "enabled": "on"},
        )
        self.assertContains(response, "non-public address")
        self.assertFalse(WebhookEndpoint.objects.exists())

    def deliveries(self, endpoint, n, state):
        from events.models import Event

        order = make_order()
        event = Event.objects.get(resource_id=order.pk)
        delivery = WebhookDelivery.of(
            event,
            endpoint,
            state=state,
            attempts=3,
            last_error="HTTP 500",
            last_duration_ms=12,
        )
        delivery.save()
        return [delivery]

    def test_the_endpoint_page_lists_recent_deliveries_and_failed_ones_are_retried(
        self,
    ):
        endpoint = WebhookEndpoint.objects.create(
            url="http://127.0.0.1:9/h", events=["*"]
        )
        [failed] = self.deliveries(endpoint, 1, "failed")
        page = self.client.get(f"/admin/events/webhookendpoint/{endpoint.pk}/change/")
        self.assertContains(page, str(failed.event_id))
        self.assertContains(page, "HTTP 500")
        self.assertContains(page, "12 ms")
        response = self.client.post(
            "/admin/events/webhookdelivery/",
            {"action": "retry", "_selected_action": [failed.pk]},
            follow=True,
        )
        self.assertContains(response, "1 failed delivery(ies) will be attempted again.")
        failed.refresh_from_db()
        self.assertEqual((failed.state, failed.attempts), ("pending", 3))
