"""``manage.py redrive_dead_letters payment-events``: put dead letters back on their queue."""

from argparse import ArgumentParser
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consumers.payment_events import payment_events_queue, quorum_transport
from consumers.queues import messages_move, queue_length


class Command(BaseCommand):
    """Move every message of ``<queue>.dead`` back onto ``<queue>`` and print how many."""

    help = (
        "Move every message of the queue's dead-letter queue back onto the queue, "
        "each confirmed by the broker before it leaves the dead queue."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "queue", help=f"the queue to put back onto: {settings.PAYMENT_EVENTS_QUEUE}"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the dead letters."
        )

    def handle(self, *args: Any, queue: str, dry_run: bool, **options: Any) -> None:
        if queue != settings.PAYMENT_EVENTS_QUEUE:
            raise CommandError(
                f"no dead-letter queue for {queue!r}; "
                f"expected {settings.PAYMENT_EVENTS_QUEUE!r}"
            )
        dead = settings.PAYMENT_EVENTS_DEAD_QUEUE
        with current_app.connection_for_write() as connection:
            if dry_run:
                count = queue_length(connection, dead)
                self.stdout.write(f"{count} dead letter(s) on {dead} would be moved.")
                return
            target = payment_events_queue(quorum=quorum_transport(connection))
            count = messages_move(connection, dead, target)
        self.stdout.write(f"Moved {count} dead letter(s) from {dead} to {queue}.")
