"""JSON nested thousands of levels deep is bad input (400) on every endpoint."""

from django.test import TestCase
from rest_framework.test import APIClient

from accounts.models import User
from idempotency.models import IdempotencyKey
from orders.models import Order
from tests.factories import make_user, token_client
from tests.webhooks.deliveries import deliver
from uploads.models import Photo


def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


def nested_object(depth):
    return '{"a":' * depth + "1" + "}" * depth


class DeepJSONTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()

    def post(self, client, path, body, **headers):
        return client.post(path, body, content_type="application/json", **headers)

    def test_every_create_answers_400_with_or_without_a_key(self):
        token = token_client(self.user)
        clients = {
            "/api/users/": APIClient(),
            "/api/auth/token/": APIClient(),
            "/api/photos/": token,
            "/upload": token,
            "/api/orders/": token,
        }
        bodies = {
            "list 1,000 deep": nested(1000),
            "object 1,000 deep": nested_object(1000),
            "list 100,000 deep": nested(100_000),
            "a field 5,000 deep": '{"filename": ' + nested(5000) + "}",
        }
        keys = iter(range(100))
        for path, client in clients.items():
            for name, body in bodies.items():
                for key in (None, f"deep-{next(keys)}"):
                    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
                    with self.subTest(path=path, body=name, key=key):
                        response = self.post(client, path, body, **headers)
                        self.assertEqual(response.status_code, 400, response.content)
                        self.assertEqual(response.json()["code"], "parse_error")
        self.assertEqual(User.objects.count(), 1)
        self.assertFalse(Photo.objects.exists())
        self.assertFalse(Order.objects.exists())
        self.assertFalse(IdempotencyKey.objects.exists())

    def test_nesting_python_can_parse_is_a_field_error_not_a_500(self):
        client = token_client(self.user)
        for depth in (100, 500):
            with self.subTest(depth=depth):
                body = '{"client_id": "c", "product_id": ' + nested(depth) + "}"
                response = self.post(
                    client, "/api/orders/", body, HTTP_IDEMPOTENCY_KEY=f"d{depth}"
                )
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("product_id", response.json())

    def test_a_signed_webhook_nested_too_deep_is_400(self):
        response = deliver(nested_object(5000).encode())
        self.assertEqual(response.status_code, 400, response.content)
