"""Orders, their state machine and the history of their transitions."""

from typing import Any, ClassVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import Prefetch
from django.utils import timezone

from core.citus import Distributed
from events.records import order_events_record
from orders.exceptions import ClientIdMismatch, InvalidTransition


class OrderQuerySet(models.QuerySet["Order"]):
    """Queries on orders, and the two writes that keep their invariants."""

    def get_or_create_by_client_id(
        self, *, owner: Any, client_id: str, product_id: int, quantity: int
    ) -> tuple["Order", bool]:
        """Create the owner's order for ``client_id`` once; return ``(order, created)``.

        A new order is ``pending`` and gets its creation event in the same
        transaction. The unique constraint on ``(owner, client_id)`` is the guard
        against concurrent duplicates. Raise ClientIdMismatch when the existing
        order has another product or quantity; nothing is changed then.
        """
        with transaction.atomic():
            order, created = self.get_or_create(
                owner=owner,
                client_id=client_id,
                defaults={"product_id": product_id, "quantity": quantity},
            )
            if created:
                order.events.create(
                    owner_id=order.owner_id, status=order.status, at=order.created_at
                )
                order_events_record(changes=[(owner.pk, order.pk, order.status, 1)])
        if not created and (order.product_id, order.quantity) != (
            product_id,
            quantity,
        ):
            raise ClientIdMismatch
        return order, created

    def transition(self, order_id: int, *, to: str) -> tuple["Order", bool]:
        """Move the order to ``to``; return ``(order, changed)``. Safe under concurrency.

        The row is locked for the check and the write, so of concurrent callers
        exactly one applies a transition and records its event. An order already
        in ``to`` is returned unchanged (a retried transition is a no-op). Raise
        InvalidTransition when ``to`` cannot be reached from the current status,
        Order.DoesNotExist when no order in this queryset has ``order_id``, and
        ValueError when no transition leads to ``to`` at all.
        """
        if to not in Order.TRANSITIONS:
            raise ValueError(f"no transition leads to {to!r}")
        with transaction.atomic():
            # Events prefetched before the lock would be stale after the write.
            # The owner comes in the same statement (the receipt names them)
            # without locking their row.
            order = (
                self.prefetch_related(None)
                .select_related("owner")
                .select_for_update(of=("self",))
                .get(pk=order_id)
            )
            if order.status == to:
                return order, False
            if order.status not in Order.TRANSITIONS[to]:
                raise InvalidTransition
            sequence = Order.EVENTS_IN[order.status] + 1
            order.status = to
            order.save(update_fields=["status", "updated_at"])
            order.events.create(owner_id=order.owner_id, status=to)
            order_events_record(changes=[(order.owner_id, order.pk, to, sequence)])
        return order, True

    def owner_of(self, order_id: int) -> int | None:
        """Return the id of the owner of order ``order_id``, or None when there is none.

        On Citus this read visits every shard: callers that know the owner
        scope their queryset to it instead.
        """
        return self.filter(pk=order_id).values_list("owner_id", flat=True).first()


def history_prefetch(owner_id: int) -> Prefetch:
    """Return the prefetch of orders' events that stays on their owner's shard."""
    return Prefetch("events", queryset=OrderEvent.objects.filter(owner_id=owner_id))


class Order(models.Model):
    """A user's order of a quantity of one product, identified by its client id.

    In PostgreSQL its primary key is ``(id, owner_id)`` (migrations 0003 and
    0004), so the table can be distributed by owner; ``id`` alone stays
    unique, as its identity column hands out each value once.
    """

    distribution = Distributed(by="owner")

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    # Target status -> the statuses it may be reached from.
    TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        Status.PROCESSING: {Status.PENDING},
        Status.COMPLETED: {Status.PROCESSING},
        Status.CANCELLED: {Status.PENDING, Status.PROCESSING},
    }
    # How many events (OrderEvent rows) an order has while in a status it can
    # leave. Every path of the state machine to such a status has one length,
    # so a transition knows its event's sequence without counting rows.
    EVENTS_IN: ClassVar[dict[str, int]] = {Status.PENDING: 1, Status.PROCESSING: 2}

    # No index on the owner alone: the unique (owner, client_id) serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="orders",
        db_index=False,
    )
    client_id = models.CharField(max_length=128)
    product_id = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "client_id"], name="orders_order_owner_client_id_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.status})"


class OrderEvent(models.Model):
    """One applied transition of an order; the first is its creation.

    It carries its order's owner, which is part of its primary key and of the
    foreign key to the order in the database (migration 0003).
    """

    distribution = Distributed(by="owner")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # The database's foreign key is (owner_id, order_id) -> (owner_id, id).
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    status = models.CharField(max_length=16, choices=Order.Status.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["owner", "order"], name="orders_orderevent_owner_order"
            ),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"
