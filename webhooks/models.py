"""The record of every payment event received, one row per provider event id."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.citus import Distributed


class WebhookEvent(models.Model):
    """One provider event, stored once whatever the number of deliveries.

    The unique constraint on ``event_id`` is what makes processing happen once:
    the row is inserted in the same transaction that applies the event's effect,
    so a concurrent delivery of the same event waits on the unique index and then
    finds the row.

    An event names an order, whose owner is known only after a lookup, and a
    redelivery must find the first delivery's row whatever that lookup says:
    the table is distributed by ``event_id`` (its primary key in PostgreSQL is
    ``(event_id, id)``, migration 0003), in a co-location group of its own.
    """

    distribution = Distributed(by="event_id")

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        ORDER_NOT_FOUND = "order_not_found", _("Order not found")
        ORDER_CANCELLED = "order_cancelled", _("Order cancelled")
        UNKNOWN_TYPE = "unknown_type", _("Unknown type")

    class Source(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook")
        BROKER = "broker", _("Broker")

    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=255)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    outcome = models.CharField(
        _("outcome"),
        max_length=32,
        choices=Outcome.choices,
        default=Outcome.RECEIVED,
    )
    reason = models.TextField(_("reason"), blank=True)
    source = models.CharField(
        _("source"),
        max_length=16,
        choices=Source.choices,
        default=Source.WEBHOOK,
        help_text=_("How the first delivery came: the webhook or the broker."),
    )
    redeliveries = models.PositiveIntegerField(
        _("redeliveries"),
        default=0,
        help_text=_("Deliveries after the first one; none of them was processed."),
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], name="webhooks_webhookevent_event_id_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} ({self.outcome})"
