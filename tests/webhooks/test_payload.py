import json

from django.test import TestCase

from tests.webhooks.deliveries import deliver, encode
from webhooks.models import WebhookEvent


class PayloadShapeTests(TestCase):
    def assertBadRequest(self, body, field=None):
        response = deliver(body)
        self.assertEqual(response.status_code, 400, response.content)
        data = response.json()
        if field is None:
            self.assertIn("detail", data)
        else:
            self.assertIn(field, data)
        self.assertEqual(WebhookEvent.objects.count(), 0)
        return data

    def test_signed_body_that_is_not_json_is_400(self):
        cases = {
            "garbage": b"{not json",
            "empty": b"",
            "not utf-8": b'{"id": "\xff", "type": "x"}',
            "NaN": b'{"id": "e", "type": "x", "data": NaN}',
            "huge float": b'{"id": "e", "type": "x", "data": 1e400}',
            "too deep": b"[" * 100_000 + b"]" * 100_000,
        }
        for name, body in cases.items():
            with self.subTest(name):
                data = self.assertBadRequest(body)
                self.assertEqual(data["code"], "parse_error")

    def test_strings_a_database_refuses_are_400(self):
        cases = {
            "NUL in id": {"id": "a\u0000b", "type": "x"},
            "NUL in data": {"id": "e", "type": "x", "data": {"k": "\u0000"}},
            "lone surrogate": {"id": "e", "type": "x", "data": "\ud800"},
        }
        for name, event in cases.items():
            with self.subTest(name):
                self.assertBadRequest(json.dumps(event).encode())

    def test_signed_json_that_is_not_an_object_is_400(self):
        for value in ([{"id": "e", "type": "x"}], "event", 42, None):
            with self.subTest(value=value):
                self.assertBadRequest(encode(value), field="non_field_errors")

    def test_missing_or_wrong_id_is_400(self):
        cases = {
            "missing": {"type": "payment.succeeded"},
            "number": {"id": 12, "type": "payment.succeeded"},
            "null": {"id": None, "type": "payment.succeeded"},
            "empty": {"id": "", "type": "payment.succeeded"},
            "too long": {"id": "e" * 256, "type": "payment.succeeded"},
            "object": {"id": {"a": 1}, "type": "payment.succeeded"},
        }
        for name, event in cases.items():
            with self.subTest(name):
                self.assertBadRequest(encode(event), field="id")

    def test_missing_or_wrong_type_is_400(self):
        cases = {
            "missing": {"id": "evt_1"},
            "number": {"id": "evt_1", "type": 3},
            "boolean": {"id": "evt_1", "type": True},
            "list": {"id": "evt_1", "type": ["payment.succeeded"]},
            "empty": {"id": "evt_1", "type": ""},
        }
        for name, event in cases.items():
            with self.subTest(name):
                self.assertBadRequest(encode(event), field="type")

    def test_id_of_255_characters_is_accepted(self):
        response = deliver(encode({"id": "e" * 255, "type": "something.else"}))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(WebhookEvent.objects.get().event_id, "e" * 255)

    def test_body_over_the_limit_is_413(self):
        event = {"id": "evt_big", "type": "x", "data": "a" * (2 * 1024 * 1024)}
        response = deliver(encode(event))
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["code"], "payload_too_large")
        self.assertEqual(WebhookEvent.objects.count(), 0)
