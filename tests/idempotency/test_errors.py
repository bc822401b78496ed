"""The layer's error answers carry their code whatever exception handler the project uses."""

from django.conf import settings
from django.test import TestCase, override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from idempotency.exceptions import KeyInUse
from tests.idempotency.helpers import TEST_URLS, counts, keyed

HANDLERS = {
    "idem": "core.exception_handler.api_exception_handler",
    "drf": "rest_framework.views.exception_handler",
}


def handler_settings(name):
    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": HANDLERS[name]}
    )


@override_settings(ROOT_URLCONF=TEST_URLS)
class ErrorCodeTests(TestCase):
    def post(self, path, body, headers):
        return APIClient().post(path, body, format="json", headers=headers)

    def test_every_answer_of_the_layer_carries_its_code_under_either_handler(self):
        for name in HANDLERS:
            with self.subTest(handler=name), handler_settings(name):
                invalid = self.post("/api/things/", {}, keyed("bad\tkey"))
                required = self.post("/api/required/", {}, {})
                first = self.post("/api/things/", {"name": "a"}, keyed(f"k-{name}"))
                other = self.post("/api/things/", {"name": "b"}, keyed(f"k-{name}"))
                self.assertEqual(first.status_code, 201)
                for response, status, code in (
                    (invalid, 400, "idempotency_key_invalid"),
                    (required, 400, "idempotency_key_required"),
                    (other, 422, "idempotency_key_mismatch"),
                ):
                    self.assertEqual(response.status_code, status)
                    self.assertEqual(response.json()["code"], code)
                    self.assertEqual(sorted(response.json()), ["code", "detail"])
        self.assertEqual(counts(), (2, 2))

    def test_the_in_use_answer_keeps_its_retry_after_under_either_handler(self):
        for name in HANDLERS:
            with self.subTest(handler=name), handler_settings(name):
                response = api_settings.EXCEPTION_HANDLER(KeyInUse(wait=3), {})
                self.assertEqual(response.status_code, 409)
                self.assertEqual(response["Retry-After"], "3")
                self.assertEqual(
                    response.data,
                    {
                        "detail": "A request with this Idempotency-Key is still in progress.",
                        "code": "idempotency_key_in_use",
                    },
                )
