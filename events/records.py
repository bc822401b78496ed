"""Writing events in the transaction of the change that causes them."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.transaction import TransactionManagementError

from events.models import Event


def events_record(events: Iterable[Event]) -> None:
    """Insert ``events`` in the caller's transaction, in one statement.

    The caller records an event only for a change it made (a row it created,
    a transition it applied), so a retried change adds none; the unique
    constraint on the resource and sequence stands guard. Raise
    TransactionManagementError outside ``transaction.atomic()``, where the
    event would not share the fate of its change.
    """
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "Events must be recorded inside the transaction of their change."
        )
    events = list(events)
    if events:
        Event.objects.bulk_create(events)


def user_created_record(*, user: Any, data: dict[str, Any]) -> None:
    """Record ``user.created`` with ``data``, the user as the API shows them."""
    events_record(
        [
            Event(
                owner_id=user.pk,
                type=Event.Type.USER_CREATED,
                resource="user",
                resource_id=user.pk,
                sequence=1,
                data=data,
            )
        ]
    )


#: The event of an order's status: a new order is pending.
ORDER_EVENT_TYPES = {
    "pending": Event.Type.ORDER_CREATED,
    "processing": Event.Type.ORDER_PROCESSING,
    "completed": Event.Type.ORDER_COMPLETED,
    "cancelled": Event.Type.ORDER_CANCELLED,
}


def order_events_record(*, changes: Iterable[tuple[int, int, str, int]]) -> None:
    """Record one event per ``(owner_id, order_id, status, sequence)``, in one INSERT.

    The data of an order's event is rendered when it is published, from the
    order's history up to ``sequence`` (events.relay).
    """
    events_record(
        Event(
            owner_id=owner_id,
            type=ORDER_EVENT_TYPES[status],
            resource="order",
            resource_id=order_id,
            sequence=sequence,
        )
        for owner_id, order_id, status, sequence in changes
    )
