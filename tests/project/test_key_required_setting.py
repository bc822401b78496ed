import json

from django.test import SimpleTestCase

from tests.project.test_settings import load_settings


class KeyRequiredSettingTests(SimpleTestCase):
    def required(self, **env):
        result = load_settings(**env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)["IDEMPOTENCY"]["REQUIRED_PATH_PREFIXES"]

    def test_no_prefix_requires_a_key_by_default(self):
        self.assertEqual(self.required(), [])

    def test_the_environment_lists_the_prefixes_comma_separated(self):
        self.assertEqual(
            self.required(IDEMPOTENCY_KEY_REQUIRED="/api/orders/, /upload"),
            ["/api/orders/", "/upload"],
        )
