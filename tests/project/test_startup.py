"""A wrong environment stops every entry point with one line naming the variable."""

import os
import re
import subprocess
import sys
import tempfile

from django.conf import settings
from django.test import SimpleTestCase

from tests.servers import free_port

# Variables these tests set; the rest of the environment is inherited.
VARIABLES = (
    "DATABASE_URL",
    "DATABASE_STATEMENT_TIMEOUT",
    "DATABASE_POOL_SIZE",
    "DEBUG",
    "SECRET_KEY",
    "WEBHOOK_SECRET",
    "IDEMPOTENCY_KEY_TTL",
    "UPLOAD_MAX_BYTES",
    "LOG_LEVEL",
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "DATABASE_TRANSACTION_POOLING",
    "DATABASE_MAX_PROCESSES",
    "DATABASE_SERVER_SIDE_BINDING",
    "PROMETHEUS_MULTIPROC_DIR",
    "SECRET_KEY_FALLBACKS",
)
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "production-secret-with-enough-variety-0123456789",
    "WEBHOOK_SECRET": "whsec-production",
    "ALLOWED_HOSTS": "api.example.com",
}
WRONG_VALUES = (
    ("IDEMPOTENCY_KEY_TTL", "abc", "a whole number of seconds"),
    ("IDEMPOTENCY_KEY_TTL", "-5", "a whole number of seconds"),
    ("UPLOAD_MAX_BYTES", "10MB", "a whole number of bytes"),
    ("LOG_LEVEL", "loud", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("DEBUG", "maybe", "1/0 or true/false"),
    ("DATABASE_STATEMENT_TIMEOUT", "10s", "a positive number of seconds"),
    ("DATABASE_POOL_SIZE", "many", "a whole number of connections"),
    ("DATABASE_TRANSACTION_POOLING", "pgbouncer", "1/0 or true/false"),
    ("DATABASE_MAX_PROCESSES", "0", "a whole number of processes"),
)


def run(command, timeout=60, **env):
    base = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    base.update(env)
    return subprocess.run(
        command,
        env=base,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage(*args, **env):
    return run([sys.executable, "manage.py", *args], **env)


class WrongEnvironmentValueTests(SimpleTestCase):
    def assert_one_line(self, result, variable):
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith(f"{variable}: expected "), lines[0])
        self.assertNotIn("Traceback", result.stderr + result.stdout)
        return lines[0]

    def test_a_wrong_value_stops_manage_py_with_one_line_naming_it_and_the_form(self):
        for variable, value, form in WRONG_VALUES:
            with self.subTest(variable=variable, value=value):
                line = self.assert_one_line(
                    manage("check", **{variable: value}), variable
                )
                self.assertIn(form, line)
                self.assertIn(repr(value), line)

    def test_a_database_url_of_the_wrong_form_is_named_without_echoing_it(self):
        line = self.assert_one_line(
            manage("check", DATABASE_URL="nosuchdb://user:hunter2@host/db"),
            "DATABASE_URL",
        )
        self.assertNotIn("hunter2", line)

    def test_a_metrics_directory_that_cannot_be_made_is_named(self):
        with tempfile.NamedTemporaryFile() as file:
            line = self.assert_one_line(
                manage("check", PROMETHEUS_MULTIPROC_DIR=f"{file.name}/metrics"),
                "PROMETHEUS_MULTIPROC_DIR",
            )
        self.assertIn(file.name, line)

    def test_a_wrong_value_stops_gunicorn_before_any_worker_starts(self):
        result = run(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "idem_project.wsgi",
                "-b",
                f"127.0.0.1:{free_port()}",
            ],
            UPLOAD_MAX_BYTES="10MB",
        )
        line = self.assert_one_line(result, "UPLOAD_MAX_BYTES")
        self.assertIn("'10MB'", line)

    def test_gunicorn_without_the_project_config_stops_too_without_a_traceback(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py") as empty_config:
            result = run(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "idem_project.wsgi",
                    "-c",
                    empty_config.name,
                    "-b",
                    f"127.0.0.1:{free_port()}",
                ],
                LOG_LEVEL="loud",
            )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("LOG_LEVEL: expected one of", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_a_wrong_value_stops_the_asgi_server(self):
        result = run(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "idem_project.asgi:application",
                "--port",
                str(free_port()),
            ],
            IDEMPOTENCY_KEY_TTL="abc",
        )
        self.assert_one_line(result, "IDEMPOTENCY_KEY_TTL")

    def test_a_wrong_value_stops_the_celery_worker_and_scheduler(self):
        for process in ("worker", "beat"):
            with self.subTest(process=process):
                result = run(
                    [sys.executable, "-m", "celery", "-A", "idem_project", process],
                    IDEMPOTENCY_KEY_TTL="abc",
                )
                self.assert_one_line(result, "IDEMPOTENCY_KEY_TTL")


class ProductionSecretsTests(SimpleTestCase):
    def refusal(self, **env):
        result = manage("check", **env)
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        return lines[0]

    def test_debug_0_refuses_the_development_secret_key(self):
        for value in (None, "", "dev-only-insecure-secret-key-change-me-in-production"):
            env = {**PRODUCTION}
            if value is None:
                del env["SECRET_KEY"]
            else:
                env["SECRET_KEY"] = value
            with self.subTest(value=value):
                self.assertTrue(self.refusal(**env).startswith("SECRET_KEY: "))

    def test_debug_0_refuses_the_development_webhook_secret(self):
        for value in (None, "", "dev-webhook-secret"):
            env = {**PRODUCTION}
            if value is None:
                del env["WEBHOOK_SECRET"]
            else:
                env["WEBHOOK_SECRET"] = value
            with self.subTest(value=value):
                self.assertTrue(self.refusal(**env).startswith("WEBHOOK_SECRET: "))

    def test_debug_0_refuses_the_development_secret_key_among_the_fallbacks(self):
        development = "dev-only-insecure-secret-key-change-me-in-production"
        env = {
            **PRODUCTION,
            "SECRET_KEY_FALLBACKS": f"old-production-key,{development}",
        }
        self.assertTrue(self.refusal(**env).startswith("SECRET_KEY_FALLBACKS: "))

    def test_the_fallbacks_are_read_comma_separated(self):
        result = manage(
            "shell",
            "-c",
            "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)",
            **PRODUCTION,
            SECRET_KEY_FALLBACKS="first-old-key, second-old-key",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.strip().splitlines()[-1],
            "['first-old-key', 'second-old-key']",
        )

    def test_debug_1_keeps_the_development_secrets(self):
        result = manage("check", DEBUG="1")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_check_deploy_leaves_only_the_warnings_the_tls_proxy_answers(self):
        result = manage("check", "--deploy", **PRODUCTION)
        self.assertEqual(result.returncode, 0, result.stderr)
        output = result.stdout + result.stderr
        warnings = sorted(set(re.findall(r"\(([a-z_]+\.[EW]\d+)\)", output)))
        self.assertEqual(warnings, ["security.W004", "security.W008"])


class GunicornConfigTests(SimpleTestCase):
    def test_the_worker_timeout_outlasts_the_statement_timeout(self):
        result = run(
            [sys.executable, "-m", "gunicorn", "--print-config", "idem_project.wsgi"],
            DATABASE_STATEMENT_TIMEOUT="4",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        config = {
            name.strip(): value.strip()
            for name, _, value in (
                line.partition("=") for line in result.stdout.splitlines()
            )
        }
        self.assertEqual(config["timeout"], "24")
        self.assertEqual(config["graceful_timeout"], "24")
