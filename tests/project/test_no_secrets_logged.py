import logging

from django.test import TestCase
from rest_framework.test import APIClient

from idempotency.models import IdempotencyKey

PASSWORD = "pw-never-logged-7f3a"


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


class NoSecretsInLogsTests(TestCase):
    def setUp(self):
        self.capture = Capture()
        root = logging.getLogger()
        previous = root.level
        root.addHandler(self.capture)
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.setLevel, previous)
        self.addCleanup(root.removeHandler, self.capture)

    def test_passwords_and_tokens_reach_no_log_line_and_no_stored_reply(self):
        client = APIClient()
        body = {"email": "ada@example.com", "name": "Ada", "password": PASSWORD}
        statuses = [
            client.post(
                "/api/users/", {**body, "email": "nope"}, format="json"
            ).status_code,
            client.post(
                "/api/users/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
            ).status_code,
            client.post(
                "/api/users/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
            ).status_code,
            client.post(
                "/api/auth/token/",
                {"email": "ada@example.com", "password": "wrong-" + PASSWORD},
                format="json",
            ).status_code,
        ]
        reply = client.post(
            "/api/auth/token/",
            {"email": "ada@example.com", "password": PASSWORD},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-2",
        )
        token = reply.json()["token"]
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        statuses.append(client.post("/api/orders/", [1], format="json").status_code)
        statuses.append(client.get("/api/orders/999/").status_code)
        self.assertEqual(statuses, [400, 201, 200, 400, 400, 404])

        logged = "\n".join(self.capture.lines)
        self.assertTrue(self.capture.lines)
        for secret in (PASSWORD, token):
            with self.subTest(secret=secret[:6]):
                self.assertNotIn(secret, logged)
                for row in IdempotencyKey.objects.all():
                    self.assertNotIn(secret.encode(), bytes(row.response_body))
                    self.assertNotIn(secret, row.path)
        self.assertEqual(IdempotencyKey.objects.count(), 1)
