import os
import subprocess
import sys

from django.conf import settings
from django.test import SimpleTestCase

PROBE = "import django, json; django.setup(); from django.conf import settings; print(json.dumps(settings.EVENTS))"
NAMES = (
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_RETRY_MAX_INTERVAL",
    "WEBHOOK_RETRY_WINDOW",
    "WEBHOOK_ALLOW_PRIVATE",
)


def load(**env):
    base = {k: v for k, v in os.environ.items() if k not in NAMES}
    base.update(DJANGO_SETTINGS_MODULE="idem_project.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env=base,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class WebhookSettingsTests(SimpleTestCase):
    def test_defaults_and_values_from_the_environment(self):
        import json

        defaults = json.loads(load().stdout)
        self.assertEqual(
            [defaults[name] for name in NAMES], [10.0, 3600.0, 259200.0, False]
        )
        values = json.loads(
            load(
                WEBHOOK_TIMEOUT="2.5",
                WEBHOOK_RETRY_MAX_INTERVAL="60",
                WEBHOOK_RETRY_WINDOW="600",
                WEBHOOK_ALLOW_PRIVATE="1",
            ).stdout
        )
        self.assertEqual([values[name] for name in NAMES], [2.5, 60.0, 600.0, True])

    def test_a_wrong_value_stops_start_up_with_one_line_naming_it(self):
        for name, value in (
            ("WEBHOOK_TIMEOUT", "soon"),
            ("WEBHOOK_RETRY_MAX_INTERVAL", "0"),
            ("WEBHOOK_RETRY_WINDOW", "3d"),
            ("WEBHOOK_ALLOW_PRIVATE", "maybe"),
        ):
            with self.subTest(name=name):
                result = load(**{name: value})
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(f"{name}: expected", result.stderr)
                self.assertEqual(
                    len(result.stderr.strip().splitlines()), 1, result.stderr
                )
