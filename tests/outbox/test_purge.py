"""Retention: processed-message records go after OUTBOX_RETENTION_DAYS, in batches."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.utils import timezone

from idem_project.celery import app
from idempotency.functions import idempotent
from idempotency.models import IdempotencyKey
from outbox.models import OutboxMessage
from outbox.services import records_purge
from webhooks.models import WebhookEvent


@idempotent(key="{name}", scope="purge-test")
def greet(name):
    return {"greeting": f"hello {name}"}


def make_message(key, **fields):
    return OutboxMessage.objects.create(
        topic="mail.welcome", payload={}, dedupe_key=key, **fields
    )


def make_event(event_id, received_at):
    return WebhookEvent.objects.create(
        event_id=event_id,
        type="payment.succeeded",
        payload={"id": event_id},
        outcome=WebhookEvent.Outcome.ORDER_NOT_FOUND,
        received_at=received_at,
    )


@override_settings(OUTBOX={"RETENTION_DAYS": 7, "PURGE_BATCH_SIZE": 2})
class RetentionTests(TestCase):
    def test_records_older_than_the_retention_go_failed_messages_stay(self):
        now = timezone.now()
        old, recent = now - timedelta(days=8), now - timedelta(days=6)
        for n in range(5):
            make_message(f"done-old-{n}", state="done", done_at=old)
        make_message("done-recent", state="done", done_at=recent)
        make_message("failed-old", state="failed", created_at=old)
        make_message("pending-old", created_at=old)
        make_event("evt_old", old)
        make_event("evt_recent", recent)
        greet("ada")
        greet("bob")
        IdempotencyKey.objects.filter(key="ada").update(created_at=old)
        self.assertEqual(
            records_purge(dry_run=True),
            {"outbox messages": 5, "payment events": 1, "idempotent calls": 1},
        )
        self.assertEqual(OutboxMessage.objects.count(), 8)
        self.assertEqual(
            records_purge(),
            {"outbox messages": 5, "payment events": 1, "idempotent calls": 1},
        )
        self.assertEqual(
            set(OutboxMessage.objects.values_list("dedupe_key", flat=True)),
            {"done-recent", "failed-old", "pending-old"},
        )
        self.assertEqual(
            list(WebhookEvent.objects.values_list("event_id", flat=True)),
            ["evt_recent"],
        )
        self.assertEqual(
            list(IdempotencyKey.objects.values_list("key", flat=True)), ["bob"]
        )

    def test_the_scheduler_runs_the_purge_every_hour(self):
        entry = app.conf.beat_schedule["outbox-purge"]
        self.assertEqual(entry["task"], "outbox.purge")
        self.assertEqual(entry["schedule"].minute, {45})


class RetryFailedCommandTests(TestCase):
    def test_every_failed_message_is_handed_over_again(self):
        make_message("a", state="failed", attempts=5, last_error="crashed")
        make_message("b", state="failed", attempts=1, last_error="550 no")
        make_message("c", state="done")
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            call_command("retry_failed_messages", stdout=(out := StringIO()))
        self.assertIn("Handed over 2 failed outbox message(s)", out.getvalue())
        self.assertEqual(len(callbacks), 2)
        self.assertEqual(
            set(OutboxMessage.objects.values_list("state", flat=True)),
            {"pending", "done"},
        )
