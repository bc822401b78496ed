"""Receiving a payment event: record it once, then drive the order state machine."""

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F

from orders.exceptions import InvalidTransition
from orders.models import Order
from orders.services import order_transition
from webhooks.models import WebhookEvent

logger = logging.getLogger(__name__)

Outcome = WebhookEvent.Outcome

# The largest primary key a BigAutoField can hold.
_MAX_ORDER_ID = 2**63 - 1


def _order_id(payload: dict[str, Any]) -> int | None:
    """Return ``data.order_id`` when it is a usable primary key, else None."""
    data = payload.get("data")
    order_id = data.get("order_id") if isinstance(data, dict) else None
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        return None
    return order_id if 0 < order_id <= _MAX_ORDER_ID else None


def payment_succeeded_apply(*, payload: dict[str, Any]) -> tuple[str, str]:
    """Complete the order named in ``payload``; return ``(outcome, reason)``.

    Every move goes through ``Order.objects.transition``, so each applied
    transition is recorded once and an order never moves backwards: a pending
    order passes through processing, a completed one is left alone, a cancelled
    one cannot be completed.
    """
    order_id = _order_id(payload)
    if order_id is None:
        return Outcome.ORDER_NOT_FOUND, "data.order_id is missing or not an order id."
    try:
        # An order past pending refuses this step; the next one tells which state.
        with contextlib.suppress(InvalidTransition):
            Order.objects.transition(order_id, to=Order.Status.PROCESSING)
    except Order.DoesNotExist:
        return Outcome.ORDER_NOT_FOUND, f"There is no order {order_id}."
    try:
        _, changed = order_transition(order_id=order_id, to=Order.Status.COMPLETED)
    except InvalidTransition:
        # Nothing but a cancelled order has no way to completed.
        return Outcome.ORDER_CANCELLED, f"Order {order_id} is cancelled."
    if not changed:
        return Outcome.IGNORED, f"Order {order_id} was already completed."
    return Outcome.PROCESSED, f"Order {order_id} completed."


HANDLERS: dict[str, Callable[..., tuple[str, str]]] = {
    "payment.succeeded": payment_succeeded_apply,
}


def payment_event_receive(
    *, event_id: str, event_type: str, payload: dict[str, Any]
) -> tuple[WebhookEvent, bool]:
    """Record the event and apply its effect once; return ``(event, created)``.

    The insert and the effect commit in one transaction. A concurrent delivery
    of the same event waits on the unique index for that transaction, then finds
    the row: it returns the stored event with ``created`` False and applies
    nothing, counting itself as a redelivery. Unknown types are recorded only.
    """
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            event_id=event_id, defaults={"type": event_type, "payload": payload}
        )
        if not created:
            WebhookEvent.objects.filter(pk=event.pk).update(
                redeliveries=F("redeliveries") + 1
            )
            if (event.type, event.payload) != (event_type, payload):
                logger.warning(
                    "Payment event %s redelivered with other content; kept the first.",
                    event_id,
                )
            return event, False
        handler = HANDLERS.get(event_type)
        if handler is None:
            outcome, reason = Outcome.UNKNOWN_TYPE, f"No handler for {event_type!r}."
        else:
            outcome, reason = handler(payload=payload)
        event.outcome, event.reason = outcome, reason
        event.save(update_fields=["outcome", "reason"])
    logger.info("Payment event %s (%s): %s", event_id, event_type, outcome)
    return event, True
