from django.test import TestCase
from rest_framework.test import APIClient

from accounts.models import User
from orders.models import Order
from tests.core.test_schema import served_schema
from tests.factories import make_user
from uploads.models import Photo

ORDER = {"client_id": "c-1", "product_id": 7, "quantity": 1}
SIGN_UP = {"email": "ada@example.com", "name": "Ada", "password": "correct horse b"}


class NumberWhereAStringIsDeclaredTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def setUp(self):
        self.client = APIClient()
        self.client.force_authenticate(self.user)

    def assert_field_error(self, response, *path):
        self.assertEqual(response.status_code, 400, response.content)
        errors = response.json()
        for name in path:
            errors = errors[name]
        self.assertEqual(errors, ["Must be a string."])

    def test_orders_and_batch_items(self):
        for value in (42, 4.5, True):
            with self.subTest(value=value):
                response = self.client.post(
                    "/api/orders/", {**ORDER, "client_id": value}, format="json"
                )
                self.assert_field_error(response, "client_id")
                response = self.client.post(
                    "/api/orders/batch/",
                    {"orders": [ORDER, {**ORDER, "client_id": value}]},
                    format="json",
                )
                self.assert_field_error(response, "orders", "1", "client_id")
        self.assertFalse(Order.objects.exists())

    def test_sign_up_and_token(self):
        for field in ("client_id", "name", "password"):
            with self.subTest(field=field):
                response = APIClient().post(
                    "/api/users/", {**SIGN_UP, field: 42}, format="json"
                )
                self.assert_field_error(response, field)
        self.assertFalse(User.objects.filter(email="ada@example.com").exists())
        response = APIClient().post(
            "/api/auth/token/",
            {"email": "a@example.com", "password": 42},
            format="json",
        )
        self.assert_field_error(response, "password")

    def test_photo_filename_and_caption(self):
        for field in ("filename", "caption"):
            with self.subTest(field=field):
                response = self.client.post(
                    "/api/photos/", {"filename": "a.jpg", field: 42}, format="json"
                )
                self.assert_field_error(response, field)
        self.assertFalse(Photo.objects.exists())

    def test_strings_are_still_taken_and_the_schema_says_string(self):
        response = self.client.post("/api/orders/", ORDER, format="json")
        self.assertEqual(response.status_code, 201, response.content)
        components = served_schema()["components"]["schemas"]
        for component, field in (
            ("OrderCreateRequest", "client_id"),
            ("UserCreateRequest", "client_id"),
            ("PhotoCreateRequest", "filename"),
        ):
            with self.subTest(component=component):
                schema = components[component]["properties"][field]
                self.assertEqual(schema["type"], "string")
