"""``manage.py purge_idempotency_keys``: delete expired keys in short batches."""

from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand

from idempotency import store
from idempotency.checks import setting_problem
from idempotency.conf import idempotency_settings


def _like_setting(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Return an argparse type that accepts what the setting ``name`` accepts."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError as exc:
            raise ArgumentTypeError(f"{text!r} is not a number") from exc
        expected = setting_problem(name, value)
        if expected:
            raise ArgumentTypeError(f"must be {expected}, not {text}")
        return value

    return convert


class Command(BaseCommand):
    """Delete expired idempotency keys and print how many."""

    help = "Delete expired idempotency keys in batches, each in its own transaction."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=_like_setting("PURGE_BATCH_SIZE", int),
            default=None,
            help="Rows deleted per transaction "
            f"(default: IDEMPOTENCY['PURGE_BATCH_SIZE'], "
            f"{idempotency_settings.PURGE_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--pause-factor",
            type=_like_setting("PURGE_PAUSE_FACTOR", float),
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
