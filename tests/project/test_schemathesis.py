import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import unittest
import urllib.request
from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.db import connection
from django.test import TestCase, TransactionTestCase

from tests.factories import make_user, token_client
from tests.servers import Gunicorn

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Bounded to about a minute on two shared cores; the seed keeps runs repeatable.
MAX_EXAMPLES = 5
SEED = 20261130


def post_json(url, body):
    request = urllib.request.Request(  # noqa: S310  loopback only
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


@unittest.skipUnless(SCHEMATHESIS.exists(), "schemathesis is not installed")
class SchemathesisTests(TransactionTestCase):
    """Schemathesis, every check and phase, against gunicorn as a token user."""

    def setUp(self):
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.project.fast_hashing_settings",
            "SECRET_KEY": "schemathesis-" + "x" * 40,
            "WEBHOOK_SECRET": "schemathesis-webhook-secret",
        }
        if connection.vendor == "sqlite":
            # The test database is in this process's memory; the server gets its own.
            folder = tempfile.TemporaryDirectory()
            self.addCleanup(folder.cleanup)
            env["DATABASE_URL"] = f"sqlite:///{Path(folder.name) / 'db.sqlite3'}"
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=settings.BASE_DIR,
                env={**os.environ, **env},
                check=True,
                timeout=120,
            )
        self.server = Gunicorn(workers=2, env=env)
        self.addCleanup(self.server.stop)
        self.server.wait_until_ready()

    def token(self):
        # Not a UUID: two UUIDs can look alike enough for the password
        # similarity validator to refuse the sign-up.
        credentials = {
            "email": f"{uuid4()}@example.com",
            "password": f"Schemathesis-{secrets.token_urlsafe(12)}",
        }
        post_json(self.server.url("/api/users/"), {**credentials, "name": "St"})
        return post_json(self.server.url("/api/auth/token/"), credentials)["token"]

    def test_every_check_passes(self):
        token = self.token()
        with tempfile.TemporaryDirectory() as reports:
            result = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "--config-file",
                    str(CONFIG),
                    "run",
                    self.server.url("/api/schema/"),
                    "--header",
                    f"Authorization: Token {token}",
                    "--checks",
                    "all",
                    "--max-examples",
                    str(MAX_EXAMPLES),
                    "--seed",
                    str(SEED),
                    "--generation-database",
                    "none",
                    "--workers",
                    "1",
                    "--request-timeout",
                    "30",
                    "--no-color",
                    "--report-dir",
                    reports,
                ],
                cwd=reports,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        summary = result.stdout[-6000:] + result.stderr[-2000:]
        self.assertEqual(result.returncode, 0, summary)
        self.assertIn("22 selected", result.stdout)
        # The token worked: only the webhook (signed, not authenticated) was
        # 401, and the webhook endpoints (staff only) 403 to this user.
        refused = re.findall(r"Authentication failed: (\d+) operation", result.stdout)
        self.assertLessEqual(set(refused), {"1", "4"}, summary)
        self.assertNotRegex(result.stdout, r"401 Unauthorized \((?!1 operation)")


class UsedKeyOnAnUnsupportedMethodTests(TestCase):
    def test_a_method_the_endpoint_does_not_allow_is_405_with_a_used_key(self):
        """The key layer claims the key before DRF answers 405 (found by schemathesis)."""
        client = token_client(make_user())
        client.post(
            "/api/photos/", {"filename": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        response = client.put(
            "/api/photos/", {"filename": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        self.assertEqual(response.status_code, 405)
