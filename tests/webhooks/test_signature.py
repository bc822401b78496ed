from django.conf import settings
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from tests.webhooks.deliveries import (
    deliver,
    encode,
    history,
    make_order,
    payment_succeeded,
    signature,
)
from webhooks.models import WebhookEvent


class SignatureTests(TestCase):
    def setUp(self):
        self.order = make_order()
        self.body = encode(payment_succeeded(self.order.pk, event_id="evt_sig"))

    def assertRejected(self, response):
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["code"], "invalid_signature")
        self.assertIn("Signature", response.headers["WWW-Authenticate"])
        self.assertEqual(WebhookEvent.objects.count(), 0)
        self.order.refresh_from_db()
        self.assertEqual(self.order.status, "pending")
        self.assertEqual(history(self.order), ["pending"])

    def test_missing_header_is_401_and_stores_nothing(self):
        self.assertRejected(deliver(self.body, sig=None))

    def test_wrong_signature_is_401_and_stores_nothing(self):
        cases = {
            "other secret": signature(self.body, secret="not-the-secret"),
            "zeros": "sha256=" + "0" * 64,
            "empty": "",
        }
        for name, sig in cases.items():
            with self.subTest(name):
                self.assertRejected(deliver(self.body, sig=sig))

    def test_tampered_body_is_401_and_stores_nothing(self):
        other = encode(payment_succeeded(self.order.pk + 1, event_id="evt_sig"))
        self.assertRejected(deliver(other, sig=signature(self.body)))

    def test_malformed_header_is_401_and_stores_nothing(self):
        digest = signature(self.body).removeprefix("sha256=")
        cases = {
            "md5 prefix": "md5=" + digest,
            "no prefix": digest,
            "sha1 prefix": "sha1=" + digest,
            "short": "sha256=" + digest[:-2],
            "long": "sha256=" + digest + "00",
            "not hex": "sha256=" + "z" * 64,
            "two signatures": f"sha256={digest},sha256={digest}",
            "non-ascii": "sha256=" + "é" * 64,
        }
        for name, sig in cases.items():
            with self.subTest(name):
                self.assertRejected(deliver(self.body, sig=sig))

    def test_upper_case_hex_digest_is_accepted(self):
        response = deliver(
            self.body, sig=signature(self.body).upper().replace("SHA256", "sha256")
        )
        self.assertEqual(response.status_code, 200)

    def test_signature_is_checked_before_the_body_is_parsed(self):
        response = deliver(b"{not json", sig="sha256=" + "0" * 64)
        self.assertEqual(response.status_code, 401)

    @override_settings(WEBHOOK_SECRET="rotated-secret")
    def test_the_configured_secret_is_the_one_checked(self):
        with self.subTest("signed with the old secret"):
            old = signature(self.body, secret="dev-webhook-secret")
            self.assertRejected(deliver(self.body, sig=old))
        with self.subTest("signed with the configured secret"):
            response = deliver(
                self.body, sig=signature(self.body, secret="rotated-secret")
            )
            self.assertEqual(response.status_code, 200)
            self.assertEqual(WebhookEvent.objects.count(), 1)

    def test_other_methods_are_405(self):
        self.assertEqual(APIClient().get("/api/webhooks/payments/").status_code, 405)

    def test_neither_secret_nor_signature_is_logged(self):
        sig = signature(self.body)
        with self.assertLogs(level="DEBUG") as logs:
            deliver(self.body, sig=sig)
            deliver(self.body, sig="sha256=" + "0" * 64)
            deliver(self.body, sig=None)
        text = "\n".join(logs.output)
        self.assertIn("evt_sig", text)
        self.assertNotIn(sig.removeprefix("sha256="), text)
        self.assertNotIn(settings.WEBHOOK_SECRET, text)
