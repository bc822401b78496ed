"""``manage.py retry_failed_messages``: hand every failed outbox message over again."""

from typing import Any

from django.core.management.base import BaseCommand

from outbox.models import OutboxMessage
from outbox.services import messages_retry


class Command(BaseCommand):
    """Put every failed outbox message back to pending, hand it over, print how many."""

    help = "Retry every failed outbox message, as the admin's retry action does."

    def handle(self, *args: Any, **options: Any) -> None:
        failed = OutboxMessage.objects.filter(state=OutboxMessage.State.FAILED)
        count = messages_retry(list(failed.values_list("pk", flat=True)))
        self.stdout.write(f"Handed over {count} failed outbox message(s) again.")
