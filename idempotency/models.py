"""The IdempotencyKey model: one row per (owner, scope, key), holding the stored reply."""

from datetime import datetime

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from idempotency.records import principal_name


class IdempotencyKeyQuerySet(models.QuerySet["IdempotencyKey"]):
    """Queries on idempotency keys."""

    def expired(self, now: datetime | None = None) -> "IdempotencyKeyQuerySet":
        """Return the keys expired at ``now`` (default: the database's now)."""
        return self.filter(expires_at__lte=now or Now())

    def unexpired(self, now: datetime | None = None) -> "IdempotencyKeyQuerySet":
        """Return the keys alive at ``now`` (default: the database's now)."""
        return self.filter(expires_at__gt=now or Now())

    def for_owner(self, owner: int, scope: str = "") -> "IdempotencyKeyQuerySet":
        """Return the keys of one owner (a user's id, 0 for anonymous) in ``scope``."""
        return self.filter(owner_id=owner, scope=scope)


class IdempotencyKey(models.Model):
    """A key an owner sent, the request it came with, and the reply to replay.

    Rows are written by ``idempotency.store`` only: inserted when a request
    claims its key and completed in the same transaction as the work the
    request did, so a row that other transactions can see is ``completed``.

    ``owner_id`` is the id of the user who sent the key, or 0 (anonymous
    requests, and ``@idempotent`` calls unless they name an owner); ``scope``
    is empty for HTTP requests and ``function:<name>`` for calls. The table is
    distributed by owner on Citus (plain data: this app imports no other), and
    its primary key in PostgreSQL is ``(id, owner_id)`` (migrations 0003
    and 0004).
    """

    distribution = {"kind": "distributed", "by": "owner_id"}

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        COMPLETED = "completed", "Completed"

    owner_id = models.BigIntegerField()
    scope = models.CharField(max_length=255, blank=True, default="")
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
                fields=["owner_id", "scope", "key"],
                name="idempotency_idempotencykey_owner_scope_key_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="idempotency_expires_at_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} ({self.principal})"

    @property
    def principal(self) -> str:
        """Return who the key belongs to: ``user:<id>``, ``anonymous`` or the scope."""
        return principal_name(self.owner_id, self.scope)
