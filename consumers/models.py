"""What the consumers processed: the keys of ``@idempotent`` calls, seen by staff."""

from django.db import models

from idempotency.functions import PRINCIPAL_PREFIX
from idempotency.models import IdempotencyKey


class IdempotentCallQuerySet(models.QuerySet["IdempotentCall"]):
    """The idempotency keys that ``@idempotent`` functions and tasks recorded."""

    def calls(self) -> "IdempotentCallQuerySet":
        """Return the keys of function calls, not those of HTTP requests."""
        return self.filter(scope__startswith=PRINCIPAL_PREFIX)


class IdempotentCall(IdempotencyKey):
    """One processed call of an ``@idempotent`` function or task: its key and result.

    A proxy of ``IdempotencyKey``: the row the decorator claimed and recorded in
    the transaction of the function's work. Payment events from the broker are
    ``WebhookEvent`` rows with the source ``broker``.
    """

    objects = IdempotentCallQuerySet.as_manager()

    class Meta:
        proxy = True
        verbose_name = "idempotent call"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.path} {self.key}"
