"""Workflows on orders that span more than one row: the re-import of a batch, the receipt."""

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from core.plans import plan_with_values
from events.records import order_events_record
from orders.models import Order, OrderEvent
from outbox.services import mail_publish

#: The most items one call of ``orders_import`` accepts (and the API's limit).
IMPORT_BATCH_MAX = 1000


class ImportOutcome(enum.StrEnum):
    """What a batch did for one of its items."""

    CREATED = "created"
    EXISTING = "existing"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class ImportItem:
    """One order of a batch, as a single create would receive it."""

    client_id: str
    product_id: int
    quantity: int


@dataclass(frozen=True)
class ImportResult:
    """The outcome for one item of a batch; ``id`` is the order's with its client_id."""

    client_id: str
    id: int
    outcome: ImportOutcome


def orders_import(*, owner: Any, items: Sequence[ImportItem]) -> list[ImportResult]:
    """Create the owner's orders of ``items`` that do not exist yet; return one result an item.

    Each item obeys the rules of a single create by ``(owner, client_id)``: a
    new order is ``pending`` with its creation event (``created``); an order
    with the same product and quantity is left as it is (``existing``); one
    with another product or quantity is left as it is too (``mismatch``). A
    client_id sent twice is created once, from its first item. The results
    are in the order of ``items``.

    The batch is one transaction of four statements whatever its size (one
    bulk INSERT of the orders that skips conflicts, one read of every
    client_id of the batch, one bulk INSERT of the creation events, one of
    their ``order.created`` events), after one that has PostgreSQL plan them
    with their values (``core.plans``); SQLite splits each INSERT into chunks
    of its 999 variables. Raise ValueError
    for an empty batch or one of more than ``IMPORT_BATCH_MAX`` items.
    """
    if not 1 <= len(items) <= IMPORT_BATCH_MAX:
        raise ValueError(
            f"a batch holds 1 to {IMPORT_BATCH_MAX} items, not {len(items)}"
        )
    first: dict[str, ImportItem] = {}
    for item in items:
        first.setdefault(item.client_id, item)
    orders, created = _orders_insert(owner=owner, first=first)
    return _import_results(items, orders=orders, created=created)


def _orders_insert(
    *, owner: Any, first: dict[str, ImportItem]
) -> tuple[dict[str, Any], set[str]]:
    """Insert the orders of ``first`` that do not exist, with their creation events.

    Return each client_id's order row (pk, product, quantity) and the set of
    client ids this call created.
    """
    with transaction.atomic():
        plan_with_values()
        # Sorted, so that concurrent batches with common client ids wait for
        # each other's rows in one order, never in a cycle (a deadlock).
        Order.objects.bulk_create(
            [
                Order(
                    owner=owner,
                    client_id=item.client_id,
                    product_id=item.product_id,
                    quantity=item.quantity,
                )
                for _, item in sorted(first.items())
            ],
            ignore_conflicts=True,
        )
        # Every committed order has its creation event, written in the
        # transaction that inserted it, and the INSERT above waited for every
        # concurrent transaction that inserted one of these client ids. So
        # after it, in a fresh READ COMMITTED snapshot, an order without events
        # is one this transaction inserted.
        orders = _orders_read(owner=owner, client_ids=first)
        created = {client_id for client_id in first if not orders[client_id].recorded}
        _creation_events_record(
            owner=owner,
            orders=[orders[client_id] for client_id in first if client_id in created],
        )
    return orders, created


def _orders_read(*, owner: Any, client_ids: Iterable[str]) -> dict[str, Any]:
    """Return the owner's orders of ``client_ids`` by client_id, each with ``recorded``.

    ``recorded`` says whether the order has any event, its creation first.
    """
    rows = (
        Order.objects.filter(owner=owner, client_id__in=client_ids)
        .annotate(
            # Correlated on the owner too: one probe of the events' (owner,
            # order) index per order, never a read of all the owner's events.
            recorded=Exists(
                OrderEvent.objects.filter(
                    owner_id=OuterRef("owner_id"), order=OuterRef("pk")
                )
            )
        )
        .values_list(
            "client_id",
            "pk",
            "product_id",
            "quantity",
            "created_at",
            "recorded",
            named=True,
        )
    )
    return {row.client_id: row for row in rows}


def _creation_events_record(*, owner: Any, orders: list[Any]) -> None:
    """Write the creation event and the ``order.created`` event of each new order."""
    OrderEvent.objects.bulk_create(
        OrderEvent(
            owner=owner,
            order_id=order.pk,
            status=Order.Status.PENDING,
            at=order.created_at,
        )
        for order in orders
    )
    order_events_record(
        changes=((owner.pk, order.pk, Order.Status.PENDING, 1) for order in orders)
    )


def _import_results(
    items: Sequence[ImportItem], *, orders: dict[str, Any], created: set[str]
) -> list[ImportResult]:
    """Return the outcome of each item, in their order; a repeat is ``existing``."""
    results = []
    for item in items:
        order = orders[item.client_id]
        if (order.product_id, order.quantity) != (item.product_id, item.quantity):
            outcome = ImportOutcome.MISMATCH
        elif item.client_id in created:
            outcome = ImportOutcome.CREATED
            created.discard(item.client_id)  # a repeat of the item is existing
        else:
            outcome = ImportOutcome.EXISTING
        results.append(
            ImportResult(client_id=item.client_id, id=order.pk, outcome=outcome)
        )
    return results


def order_transition(
    *, order_id: int, to: str, owner_id: int | None = None
) -> tuple[Order, bool]:
    """Move the order to ``to`` like ``Order.objects.transition``; return ``(order, changed)``.

    When the order becomes completed, its receipt is written to the outbox in
    the same transaction, so it is sent once whatever the number of retries.
    ``owner_id`` keeps every statement on the owner's shard; without it the
    owner is looked up first. Raise what ``transition`` raises.
    """
    if owner_id is None:
        owner_id = Order.objects.owner_of(order_id)
    with transaction.atomic():
        order, changed = Order.objects.filter(owner_id=owner_id).transition(
            order_id, to=to
        )
        if changed and order.status == Order.Status.COMPLETED:
            receipt_email_publish(order=order)
    return order, changed


def receipt_email_publish(*, order: Order) -> None:
    """Write the receipt of a completed order to the outbox, once per order."""
    owner = order.owner
    mail_publish(
        topic="mail.receipt",
        dedupe_key=f"receipt:{order.pk}",
        owner=order.owner_id,
        to=[owner.email],
        subject=f"Your Idem order #{order.pk} is complete",
        body=(
            f"Hello {owner.name or owner.email},\n\n"
            f"your order #{order.pk} ({order.quantity} x product {order.product_id}) "
            "is complete.\n"
        ),
    )
