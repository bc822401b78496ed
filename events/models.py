"""Events, the endpoints that want them, and one delivery per event and endpoint.

Where the tables live once the database is distributed (Citus): events and
deliveries hold a user's rows and are distributed by ``owner``, co-located
with the user's orders; endpoints are the staff's configuration, read by
every delivery, a reference table. In PostgreSQL the primary keys of events
and deliveries are ``(id, owner_id)`` and a delivery's foreign key to its
event is ``(owner_id, event_id)`` (migrations 0002 and 0004).
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.citus import Distributed, Reference
from core.clock import db_now


class Event(models.Model):
    """One change of a user's resource, written in the transaction of the change."""

    distribution = Distributed(by="owner")

    class Type(models.TextChoices):
        USER_CREATED = "user.created"
        ORDER_CREATED = "order.created"
        ORDER_PROCESSING = "order.processing"
        ORDER_COMPLETED = "order.completed"
        ORDER_CANCELLED = "order.cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index on the owner alone: the unique constraint leading with it serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    type = models.CharField(max_length=32, choices=Type.choices)
    resource = models.CharField(max_length=16)
    resource_id = models.BigIntegerField()
    sequence = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    # The resource as the API shows it. Empty for an order: it is rendered
    # from the order's history each time the event is sent (events_render in
    # events/relay.py), so the change that causes the event reads nothing more.
    data = models.JSONField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "resource", "resource_id", "sequence"],
                name="events_event_owner_resource_sequence_uniq",
            ),
        ]
        indexes = [
            # The relay reads only the events not yet published.
            models.Index(
                fields=["created_at"],
                condition=Q(published_at__isnull=True),
                name="events_event_unpublished_idx",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.resource}:{self.resource_id} #{self.sequence}"

    def body(self) -> dict[str, object]:
        """Return the event as it is published and POSTed."""
        return {
            "id": str(self.id),
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "sequence": self.sequence,
            "data": self.data,
        }


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL that receives the events of the types it wants, signed with its secret."""

    distribution = Reference()

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100, default=_new_secret, editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        """Return whether the endpoint receives events of ``event_type``."""
        return "*" in self.events or event_type in self.events


class WebhookDeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    """Queries on deliveries, and the conditional write that keeps them in order."""

    def pending(self) -> "WebhookDeliveryQuerySet":
        """Return the deliveries still to be made."""
        return self.filter(state=WebhookDelivery.State.PENDING)

    def heads(self) -> "WebhookDeliveryQuerySet":
        """Return the pending deliveries that are first of their resource at their endpoint.

        A delivery waits while an earlier event of its resource is not yet
        published (its deliveries do not exist yet) or has a pending delivery
        to the same endpoint.
        """
        earlier_unpublished = Event.objects.filter(
            owner_id=OuterRef("owner_id"),
            resource=OuterRef("resource"),
            resource_id=OuterRef("resource_id"),
            sequence__lt=OuterRef("sequence"),
            published_at__isnull=True,
        )
        earlier_pending = WebhookDelivery.objects.filter(
            owner_id=OuterRef("owner_id"),
            endpoint_id=OuterRef("endpoint_id"),
            resource=OuterRef("resource"),
            resource_id=OuterRef("resource_id"),
            sequence__lt=OuterRef("sequence"),
            state=WebhookDelivery.State.PENDING,
        )
        return self.pending().filter(
            ~Exists(earlier_unpublished), ~Exists(earlier_pending)
        )

    def due(self) -> "WebhookDeliveryQuerySet":
        """Return the heads whose next attempt is due and that no worker holds.

        Every condition is on the delivery's own row or in a subquery, so the
        UPDATE of ``claim`` re-checks them on the row it waited for. Times are
        the database's, as in every lease and due time of this model.
        """
        enabled = WebhookEndpoint.objects.filter(
            pk=OuterRef("endpoint_id"), enabled=True
        )
        return self.heads().filter(
            Q(leased_until__isnull=True) | Q(leased_until__lte=db_now()),
            Exists(enabled),
            next_attempt_at__lte=db_now(),
        )

    def in_flight(self, *, handed_over_within: float) -> "WebhookDeliveryQuerySet":
        """Return the pending deliveries a worker holds, or was handed in the last ``handed_over_within`` s.

        They are the attempts being made or about to be, which
        WEBHOOK_ENDPOINT_CONCURRENCY counts per endpoint; one small index
        holds every row that can match.
        """
        return (
            self.pending()
            .filter(Q(leased_until__isnull=False) | Q(dispatched_at__isnull=False))
            .filter(
                Q(leased_until__gt=db_now())
                | Q(dispatched_at__gt=db_now(plus=-handed_over_within))
            )
        )

    def claim(self, pk: int, *, lease_seconds: float) -> bool:
        """Take the delivery for one attempt; return False when it is not to be made now.

        One conditional UPDATE: of concurrent workers one takes it until its
        lease ends, and only while it is the head of its resource's queue at
        its endpoint.
        """
        return bool(
            self.due()
            .filter(pk=pk)
            .update(
                leased_until=db_now(plus=lease_seconds),
                dispatched_at=None,
                attempts=models.F("attempts") + 1,
                last_attempt_at=db_now(),
            )
        )


class WebhookDelivery(models.Model):
    """One event to one endpoint: pending until delivered or failed."""

    distribution = Distributed(by="owner")

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    # No index on the owner alone: the unique constraint leading with it serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The database's foreign key is (owner_id, event_id) -> (owner_id, id).
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # The event's resource and sequence, so the order of a queue is one index away.
    resource = models.CharField(max_length=16)
    resource_id = models.BigIntegerField()
    sequence = models.PositiveIntegerField()
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # Retries end WEBHOOK_RETRY_WINDOW after this: the creation, or a retry by staff.
    window_from = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "endpoint", "event"],
                name="events_webhookdelivery_owner_endpoint_event_uniq",
            ),
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "resource", "resource_id", "sequence"],
                condition=Q(state="pending"),
                name="events_delivery_pending_idx",
            ),
            # The attempts in flight, counted per endpoint (in_flight).
            models.Index(
                fields=["endpoint"],
                condition=Q(state="pending")
                & (Q(leased_until__isnull=False) | Q(dispatched_at__isnull=False)),
                name="events_delivery_in_flight_idx",
            ),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} to endpoint {self.endpoint_id} ({self.state})"

    @classmethod
    def of(
        cls, event: Event, endpoint: WebhookEndpoint, **fields: object
    ) -> "WebhookDelivery":
        """Return the (unsaved) delivery of ``event`` to ``endpoint``, in the event's queue."""
        return cls(
            owner_id=event.owner_id,
            endpoint=endpoint,
            event=event,
            resource=event.resource,
            resource_id=event.resource_id,
            sequence=event.sequence,
            **fields,
        )
