"""``manage.py purge_idempotency_keys``: delete expired keys in short batches."""

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand

from idempotency import store
from idempotency.conf import idempotency_settings


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _factor(value: str) -> float:
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ArgumentTypeError(f"must be a number, 0 or more, not {value}")
    return number


class Command(BaseCommand):
    """Delete expired idempotency keys and print how many."""

    help = "Delete expired idempotency keys in batches, each in its own transaction."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=None,
            help="Rows deleted per transaction "
            f"(default: IDEMPOTENCY['PURGE_BATCH_SIZE'], "
            f"{idempotency_settings.PURGE_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--pause-factor",
            type=_factor,
            default=None,
            help="After each batch, sleep this many times as long as it took; "
            "0 for no pause (default: IDEMPOTENCY['PURGE_PAUSE_FACTOR'], "
            f"{idempotency_settings.PURGE_PAUSE_FACTOR}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the expired keys without deleting them.",
        )

    def handle(
        self,
        *args: Any,
        batch_size: int | None,
        pause_factor: float | None,
        dry_run: bool,
        **options: Any,
    ) -> None:
        count = store.purge_expired(
            batch_size=batch_size, pause_factor=pause_factor, dry_run=dry_run
        )
        if dry_run:
            self.stdout.write(f"Would delete {count} expired idempotency key(s).")
        else:
            self.stdout.write(f"Deleted {count} expired idempotency key(s).")
