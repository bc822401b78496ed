import json
import logging
import os
import subprocess
import sys

from django.conf import settings
from django.test import SimpleTestCase, TestCase, override_settings

from idem_project.celery import app
from idempotency.models import IdempotencyKey
from idempotency.tasks import purge_expired_keys_task
from outbox.delivery import message_deliver
from outbox.models import OutboxMessage
from tests.idempotency.test_command import make_keys
from tests.outbox.smtp import SmtpServer

PROBE = """
import json, django
from django.conf import settings
django.setup()
names = ["EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_USE_TLS",
         "EMAIL_TIMEOUT", "OUTBOX"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


class MailAndOutboxSettingsTests(SimpleTestCase):
    def probe(self, **env):
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("EMAIL_", "OUTBOX_"))
        }
        result = subprocess.run(
            [sys.executable, "-c", PROBE],
            env={**base, "DJANGO_SETTINGS_MODULE": "idem_project.settings", **env},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def test_smtp_settings_and_outbox_timings_come_from_the_environment(self):
        values = self.probe(
            EMAIL_HOST="smtp.example.com",
            EMAIL_PORT="587",
            EMAIL_HOST_USER="idem",
            EMAIL_HOST_PASSWORD="s3cret",
            EMAIL_USE_TLS="1",
            EMAIL_TIMEOUT="7",
            OUTBOX_RELAY_AFTER="2",
            OUTBOX_LEASE="30",
            OUTBOX_GIVE_UP_AFTER="100000",
            OUTBOX_RETENTION_DAYS="9",
        )
        self.assertEqual(values["EMAIL_HOST"], "smtp.example.com")
        self.assertEqual(values["EMAIL_PORT"], 587)
        self.assertEqual(values["EMAIL_HOST_USER"], "idem")
        self.assertIs(values["EMAIL_USE_TLS"], True)
        self.assertEqual(values["EMAIL_TIMEOUT"], 7)
        self.assertEqual(
            values["OUTBOX"],
            {
                "RELAY_AFTER_SECONDS": 2,
                "LEASE_SECONDS": 30,
                "GIVE_UP_AFTER_SECONDS": 100000,
                "RETENTION_DAYS": 9,
            },
        )

    def test_defaults_retry_a_failing_mail_server_at_least_every_30_seconds_for_a_day(
        self,
    ):
        values = self.probe()
        self.assertEqual(values["EMAIL_TIMEOUT"], 10)
        self.assertGreaterEqual(values["OUTBOX"]["GIVE_UP_AFTER_SECONDS"], 24 * 3600)
        retry = app.conf.task_annotations["outbox.deliver"]
        self.assertIsNone(retry["max_retries"])
        self.assertTrue(retry["retry_jitter"])
        # The longest wait between two attempts plus one attempt's longest conversation.
        self.assertLessEqual(retry["retry_backoff_max"] + values["EMAIL_TIMEOUT"], 30)


class CelerySettingsTests(SimpleTestCase):
    def test_delivery_is_at_least_once_one_message_at_a_time(self):
        self.assertTrue(app.conf.task_acks_late)
        self.assertTrue(app.conf.task_reject_on_worker_lost)
        self.assertEqual(app.conf.worker_prefetch_multiplier, 1)

    def test_the_scheduler_relays_within_a_minute_and_purges_keys_daily(self):
        schedule = {
            entry["task"]: entry["schedule"]
            for entry in app.conf.beat_schedule.values()
        }
        self.assertLessEqual(schedule["outbox.relay"], 30)
        purge = schedule["idempotency.purge_expired_keys"]
        self.assertEqual((purge.hour, purge.minute), ({3}, {30}))
        app.loader.import_default_modules()
        for name in schedule:
            self.assertIn(name, app.tasks)


class SmtpPasswordTests(TestCase):
    def test_the_smtp_password_reaches_no_log_line_and_no_stored_error(self):
        OutboxMessage.objects.create(
            topic="mail.welcome",
            payload={"to": ["a@example.com"], "subject": "S", "body": "B"},
            dedupe_key="welcome:pw",
        )
        with (
            SmtpServer() as smtp,
            override_settings(
                **smtp.settings(),
                EMAIL_HOST_USER="idem",
                EMAIL_HOST_PASSWORD="pw-smtp-s3cret",
            ),
            self.assertLogs(level=logging.DEBUG) as logs,
        ):
            self.assertEqual(
                message_deliver(dedupe_key="welcome:pw").outcome, "retried"
            )
        error = OutboxMessage.objects.get().last_error
        self.assertIn("AUTH", error)
        self.assertNotIn("pw-smtp-s3cret", error)
        self.assertNotIn("pw-smtp-s3cret", "\n".join(logs.output))


class ScheduledPurgeTests(TestCase):
    def test_the_scheduled_task_purges_expired_keys(self):
        make_keys(3, expires_in=-60, prefix="old")
        make_keys(1, expires_in=3600, prefix="alive")
        purge_expired_keys_task()
        self.assertEqual(
            list(IdempotencyKey.objects.values_list("key", flat=True)), ["alive-0"]
        )
