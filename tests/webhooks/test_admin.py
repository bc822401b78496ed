from django.test import TestCase

from tests.factories import make_staff
from webhooks.models import WebhookEvent


class WebhookEventAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(is_superuser=True)
        cls.event = WebhookEvent.objects.create(
            event_id="evt_admin_1",
            type="payment.succeeded",
            payload={"id": "evt_admin_1", "type": "payment.succeeded", "data": {}},
            outcome=WebhookEvent.Outcome.ORDER_NOT_FOUND,
            reason="data.order_id is missing or not an order id.",
        )
        WebhookEvent.objects.create(
            event_id="evt_admin_2",
            type="payment.refunded",
            payload={"id": "evt_admin_2", "type": "payment.refunded"},
            outcome=WebhookEvent.Outcome.UNKNOWN_TYPE,
            source=WebhookEvent.Source.BROKER,
        )

    def setUp(self):
        self.client.force_login(self.staff)

    def test_changelist_filters_and_searches(self):
        url = "/admin/webhooks/webhookevent/"
        cases = {
            "all": ("", ["evt_admin_1", "evt_admin_2"]),
            "by type": ("?type=payment.refunded", ["evt_admin_2"]),
            "by outcome": ("?outcome=order_not_found", ["evt_admin_1"]),
            "by source": ("?source=broker", ["evt_admin_2"]),
            "search by event id": ("?q=evt_admin_2", ["evt_admin_2"]),
        }
        for name, (query, shown) in cases.items():
            with self.subTest(name):
                response = self.client.get(url + query)
                self.assertEqual(response.status_code, 200)
                listed = [e.event_id for e in response.context["cl"].result_list]
                self.assertEqual(sorted(listed), shown)

    def test_events_are_read_only(self):
        base = f"/admin/webhooks/webhookevent/{self.event.pk}"
        detail = self.client.get(f"{base}/change/")
        self.assertEqual(detail.status_code, 200)
        self.assertContains(detail, "evt_admin_1")
        self.assertContains(detail, "&quot;data&quot;: {}")
        self.assertNotContains(detail, 'name="_save"')
        with self.subTest("no add"):
            self.assertEqual(
                self.client.get("/admin/webhooks/webhookevent/add/").status_code, 403
            )
        with self.subTest("no edit"):
            self.client.post(f"{base}/change/", {"outcome": "processed"})
            self.event.refresh_from_db()
            self.assertEqual(self.event.outcome, "order_not_found")
        with self.subTest("no delete"):
            self.assertEqual(self.client.get(f"{base}/delete/").status_code, 403)
            self.assertTrue(WebhookEvent.objects.filter(pk=self.event.pk).exists())

    def test_str_names_type_id_and_outcome(self):
        self.assertEqual(
            str(self.event), "payment.succeeded evt_admin_1 (order_not_found)"
        )
