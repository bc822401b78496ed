from django.core.checks import run_checks
from django.test import SimpleTestCase, override_settings


class WebhookSecretCheckTests(SimpleTestCase):
    def test_empty_or_missing_secret_is_an_error(self):
        for value in ("", None, 123):
            with self.subTest(value=value), override_settings(WEBHOOK_SECRET=value):
                ids = [message.id for message in run_checks()]
                self.assertIn("webhooks.E001", ids)

    def test_configured_secret_passes(self):
        with override_settings(WEBHOOK_SECRET="s3cret"):
            ids = [message.id for message in run_checks()]
            self.assertNotIn("webhooks.E001", ids)
