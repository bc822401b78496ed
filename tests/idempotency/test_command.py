from datetime import timedelta
from io import StringIO

from django.core.management import CommandError, call_command
from django.test import TestCase
from django.utils import timezone

from idempotency.models import IdempotencyKey


def make_keys(count, *, expires_in, prefix):
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            owner_id=0,
            key=f"{prefix}-{n}",
            method="POST",
            path="/api/things/",
            fingerprint="f" * 64,
            state="completed",
            status_code=201,
            expires_at=timezone.now() + timedelta(seconds=expires_in),
        )
        for n in range(count)
    )


class PurgeCommandTests(TestCase):
    def setUp(self):
        make_keys(5, expires_in=-60, prefix="old")
        make_keys(2, expires_in=3600, prefix="alive")

    def run_command(self, *args):
        out = StringIO()
        call_command("purge_idempotency_keys", *args, stdout=out)
        return out.getvalue()

    def test_deletes_expired_keys_and_prints_how_many(self):
        self.assertEqual(self.run_command(), "Deleted 5 expired idempotency key(s).\n")
        self.assertEqual(IdempotencyKey.objects.count(), 2)
        self.assertFalse(IdempotencyKey.objects.expired().exists())
        self.assertEqual(self.run_command(), "Deleted 0 expired idempotency key(s).\n")

    def test_batch_size(self):
        output = self.run_command("--batch-size", "2")
        self.assertEqual(output, "Deleted 5 expired idempotency key(s).\n")
        self.assertEqual(IdempotencyKey.objects.count(), 2)

    def test_dry_run_prints_how_many_and_deletes_nothing(self):
        self.assertEqual(
            self.run_command("--dry-run"),
            "Would delete 5 expired idempotency key(s).\n",
        )
        self.assertEqual(IdempotencyKey.objects.count(), 7)

    def test_pause_factor(self):
        output = self.run_command("--batch-size", "2", "--pause-factor", "0")
        self.assertEqual(output, "Deleted 5 expired idempotency key(s).\n")

    def test_pause_factor_must_be_a_number_0_or_more(self):
        for value in ["-1", "x", "inf", "nan"]:
            with self.subTest(value=value), self.assertRaises(CommandError):
                call_command("purge_idempotency_keys", "--pause-factor", value)

    def test_batch_size_must_be_positive(self):
        for value in ["0", "-1", "x"]:
            with self.subTest(value=value), self.assertRaises(CommandError):
                call_command("purge_idempotency_keys", "--batch-size", value)
