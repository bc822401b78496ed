import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "SECRET_KEY": settings.SECRET_KEY,
    "ENGINE": db["ENGINE"],
    "NAME": str(db["NAME"]),
    "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    "EMAIL_BACKEND": settings.EMAIL_BACKEND,
    "EMAIL_FILE_PATH": str(settings.EMAIL_FILE_PATH),
    "WEBHOOK_SECRET": settings.WEBHOOK_SECRET,
    "IDEMPOTENCY": settings.IDEMPOTENCY,
    "UPLOAD_MAX_BYTES": settings.UPLOAD_MAX_BYTES,
    "PREPARE_THRESHOLD": db["OPTIONS"].get("prepare_threshold", "absent"),
}))
"""

VARIABLES = (
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "MEDIA_ROOT",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "WEBHOOK_SECRET",
    "IDEMPOTENCY_KEY_TTL",
    "UPLOAD_MAX_BYTES",
    "DATABASE_PREPARED_STATEMENTS",
)


def load_settings(**env):
    base = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    base["DJANGO_SETTINGS_MODULE"] = "idem_project.settings"
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env=base,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class EnvironmentSettingsTests(SimpleTestCase):
    def read(self, **env):
        result = load_settings(**env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def test_defaults_serve_a_developer_on_one_machine(self):
        values = self.read()
        self.assertTrue(values["DEBUG"])
        self.assertEqual(values["ENGINE"], "django.db.backends.sqlite3")
        self.assertEqual(Path(values["NAME"]), Path(settings.BASE_DIR) / "db.sqlite3")
        self.assertEqual(Path(values["MEDIA_ROOT"]), Path(settings.BASE_DIR) / "media")
        self.assertEqual(
            values["EMAIL_BACKEND"], "django.core.mail.backends.console.EmailBackend"
        )
        self.assertEqual(values["IDEMPOTENCY"]["TTL_SECONDS"], 86400)
        self.assertEqual(values["UPLOAD_MAX_BYTES"], 10 * 1024 * 1024)
        self.assertIn("127.0.0.1", values["ALLOWED_HOSTS"])

    def test_every_operations_variable_is_read(self):
        values = self.read(
            DATABASE_URL="postgres://someone@db.example:5433/idem",
            SECRET_KEY="s3cret",
            DEBUG="0",
            ALLOWED_HOSTS="api.example.com, www.example.com",
            MEDIA_ROOT="/srv/media",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH="/srv/mail",
            WEBHOOK_SECRET="whsec",
            IDEMPOTENCY_KEY_TTL="60",
            UPLOAD_MAX_BYTES="1024",
        )
        self.assertFalse(values["DEBUG"])
        self.assertEqual(values["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual(values["NAME"], "idem")
        self.assertEqual(values["SECRET_KEY"], "s3cret")
        self.assertEqual(
            values["ALLOWED_HOSTS"], ["api.example.com", "www.example.com"]
        )
        self.assertEqual(values["MEDIA_ROOT"], "/srv/media")
        self.assertEqual(
            values["EMAIL_BACKEND"], "django.core.mail.backends.filebased.EmailBackend"
        )
        self.assertEqual(values["EMAIL_FILE_PATH"], "/srv/mail")
        self.assertEqual(values["WEBHOOK_SECRET"], "whsec")
        self.assertEqual(values["IDEMPOTENCY"]["TTL_SECONDS"], 60)
        self.assertEqual(values["UPLOAD_MAX_BYTES"], 1024)

    def test_postgresql_prepares_the_key_layers_statements_unless_told_not_to(self):
        url = "postgres://someone@db.example:5433/idem"
        self.assertEqual(self.read(DATABASE_URL=url)["PREPARE_THRESHOLD"], 5)
        values = self.read(DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS="0")
        self.assertIsNone(values["PREPARE_THRESHOLD"])
        self.assertEqual(self.read()["PREPARE_THRESHOLD"], "absent")

    def test_debug_accepts_one_zero_true_false(self):
        for raw, expected in (
            ("1", True),
            ("0", False),
            ("true", True),
            ("False", False),
        ):
            with self.subTest(raw=raw):
                values = self.read(DEBUG=raw, SECRET_KEY="s3cret", WEBHOOK_SECRET="w")
                self.assertEqual(values["DEBUG"], expected)

    def test_a_meaningless_debug_value_stops_start_up(self):
        result = load_settings(DEBUG="maybe")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DEBUG: expected 1/0 or true/false, got 'maybe'", result.stderr)
