"""The IdempotencyKey model: one row per (principal, key), holding the stored reply."""

from datetime import datetime

from django.db import models
from django.utils import timezone


class IdempotencyKeyQuerySet(models.QuerySet["IdempotencyKey"]):
    """Queries on idempotency keys."""

    def expired(self, now: datetime | None = None) -> "IdempotencyKeyQuerySet":
        """Return the keys whose time to live is over at ``now`` (default: now)."""
        return self.filter(expires_at__lte=now or timezone.now())

    def unexpired(self, now: datetime | None = None) -> "IdempotencyKeyQuerySet":
        """Return the keys still alive at ``now`` (default: now)."""
        return self.filter(expires_at__gt=now or timezone.now())

    def for_principal(self, principal: str) -> "IdempotencyKeyQuerySet":
        """Return the keys of one principal (``"user:<pk>"`` or ``"anonymous"``)."""
        return self.filter(principal=principal)


class IdempotencyKey(models.Model):
    """A key a principal sent, the request it came with, and the reply to replay.

    Rows are written by ``idempotency.store`` only: inserted when a request
    claims its key and completed in the same transaction as the work the
    request did, so a row that other transactions can see is ``completed``.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        COMPLETED = "completed", "Completed"

    principal = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField(help_text="The request's path with its query string.")
    fingerprint = models.CharField(
        max_length=64,
        help_text="HMAC-SHA256, keyed by the server, of the method, path and payload.",
    )
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.IN_FLIGHT
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(
        default=b"", blank=True, help_text="The rendered body, sent as is on replay."
    )
    content_type = models.CharField(max_length=255, blank=True, default="")
    location = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = IdempotencyKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "key"],
                name="idempotency_idempotencykey_principal_key_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="idempotency_expires_at_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} ({self.principal})"
