from django.test import TestCase

from orders.models import Order
from tests.factories import make_staff, make_user


class OrderAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(is_superuser=True)
        cls.owner = make_user(email="buyer@example.com")
        cls.order, _ = Order.objects.get_or_create_by_client_id(
            owner=cls.owner, client_id="client-abc", product_id=7, quantity=2
        )
        Order.objects.transition(cls.order.pk, to="processing")

    def setUp(self):
        self.client.force_login(self.staff)

    def test_changelist_searches_and_filters(self):
        cases = [
            ({}, True),
            ({"q": "client-abc"}, True),
            ({"q": "buyer@example.com"}, True),
            ({"q": "nothing-like-it"}, False),
            ({"status__exact": "processing"}, True),
            ({"status__exact": "completed"}, False),
        ]
        for params, found in cases:
            with self.subTest(**params):
                response = self.client.get("/admin/orders/order/", params)
                self.assertEqual(response.status_code, 200)
                if found:
                    self.assertContains(response, "client-abc")
                else:
                    self.assertNotContains(response, "client-abc")

    def test_change_page_shows_the_history_read_only(self):
        response = self.client.get(f"/admin/orders/order/{self.order.pk}/change/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "pending")
        self.assertContains(response, "processing")
        self.assertNotContains(response, 'name="status"')
        self.assertNotContains(response, 'name="events-0-status"')

    def test_orders_cannot_be_added_in_the_admin(self):
        self.assertEqual(self.client.get("/admin/orders/order/add/").status_code, 403)
