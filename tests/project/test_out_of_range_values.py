"""Out-of-range values stop the web, the worker and the scheduler with one line."""

import sys

from django.test import SimpleTestCase

from tests.project.test_startup import manage, run
from tests.servers import free_port

OUT_OF_RANGE = (
    ("IDEMPOTENCY_KEY_REQUIRED", "api/orders/", "paths that start with '/'"),
    ("IDEMPOTENCY_KEY_REQUIRED", "/api/, upload", "paths that start with '/'"),
    ("OUTBOX_LEASE", "0", "a whole number of seconds, 1 or more"),
    ("OUTBOX_RELAY_AFTER", "0", "a whole number of seconds, 1 or more"),
    ("OUTBOX_RELAY_INTERVAL", "0", "a whole number of seconds, 1 or more"),
    ("OUTBOX_GIVE_UP_AFTER", "0", "a whole number of seconds, 1 or more"),
    ("EMAIL_TIMEOUT", "0", "a whole number of seconds, 1 or more"),
    ("EMAIL_PORT", "0", "a port number from 1 to 65535"),
    ("EMAIL_PORT", "70000", "a port number from 1 to 65535"),
    ("OUTBOX_RETENTION_DAYS", "0", "a whole number of days, 1 or more"),
    ("DATABASE_STATEMENT_TIMEOUT", "0", "a positive number of seconds"),
    ("WEBHOOK_ENDPOINT_CONCURRENCY", "0", "a whole number of attempts"),
    ("METRICS_ALLOWED_IPS", "localhost", "IP addresses or networks"),
)
PROCESSES = {
    "web": [sys.executable, "-m", "gunicorn", "idem_project.wsgi", "-b"],
    "worker": [sys.executable, "-m", "celery", "-A", "idem_project", "worker"],
    "scheduler": [sys.executable, "-m", "celery", "-A", "idem_project", "beat"],
}


class OutOfRangeValueTests(SimpleTestCase):
    def assert_one_line(self, result, variable, form, value):
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith(f"{variable}: expected "), lines[0])
        self.assertIn(form, lines[0])
        self.assertIn(repr(value), lines[0])
        self.assertNotIn("Traceback", result.stderr + result.stdout)

    def test_each_value_out_of_range_stops_manage_py_naming_it_and_the_form(self):
        for variable, value, form in OUT_OF_RANGE:
            with self.subTest(variable=variable, value=value):
                result = manage("check", **{variable: value})
                self.assert_one_line(result, variable, form, value)

    def test_a_retention_shorter_than_the_longest_retry_is_refused(self):
        result = manage(
            "check", OUTBOX_GIVE_UP_AFTER=str(3 * 86400), OUTBOX_RETENTION_DAYS="2"
        )
        self.assert_one_line(
            result, "OUTBOX_RETENTION_DAYS", "a whole number of days, 3 or more", "2"
        )

    def test_a_wrong_value_of_each_kind_stops_every_process(self):
        wrong = (
            ("OUTBOX_LEASE", "0", "1 or more"),
            ("IDEMPOTENCY_KEY_REQUIRED", "api/", "start with '/'"),
            ("DATABASE_STATEMENT_TIMEOUT", "0", "a positive number of seconds"),
            ("WEBHOOK_ENDPOINT_CONCURRENCY", "0", "a whole number of attempts"),
            ("METRICS_ALLOWED_IPS", "10.0.0.0/33", "IP addresses or networks"),
        )
        for name, command in PROCESSES.items():
            if name == "web":
                command = [*command, f"127.0.0.1:{free_port()}"]
            for variable, value, form in wrong:
                with self.subTest(process=name, variable=variable):
                    result = run(command, **{variable: value})
                    self.assert_one_line(result, variable, form, value)
