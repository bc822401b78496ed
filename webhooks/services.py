"""Receiving a payment event: check it, record it once, drive the order state machine."""

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from orders.exceptions import InvalidTransition
from orders.models import Order
from orders.services import order_transition
from webhooks.models import WebhookEvent
from webhooks.serializers import PaymentEventSerializer, event_body_parse
from webhooks.signatures import signature_verify

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
    # The event names the order only: its owner, whose shard holds the order,
    # is read first.
    owner_id = Order.objects.owner_of(order_id)
    try:
        # An order past pending refuses this step; the next one tells which state.
        with contextlib.suppress(InvalidTransition):
            Order.objects.filter(owner_id=owner_id).transition(
                order_id, to=Order.Status.PROCESSING
            )
    except Order.DoesNotExist:
        return Outcome.ORDER_NOT_FOUND, f"There is no order {order_id}."
    try:
        _, changed = order_transition(
            order_id=order_id, to=Order.Status.COMPLETED, owner_id=owner_id
        )
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
    *,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    source: str = WebhookEvent.Source.WEBHOOK,
) -> tuple[WebhookEvent, bool]:
    """Record the event and apply its effect once; return ``(event, created)``.

    The insert and the effect commit in one transaction. A concurrent delivery
    of the same event waits on the unique index for that transaction, then
    fails to insert: it returns the stored event with ``created`` False and
    applies nothing, counting itself as a redelivery. Unknown types are
    recorded only. ``source`` says how the first delivery came.
    """
    with transaction.atomic():
        try:
            # Insert first, in a savepoint, as get_or_create does after its
            # read: a first delivery, the usual case, costs one statement.
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    event_id=event_id, type=event_type, payload=payload, source=source
                )
        except IntegrityError:
            return _redelivery(
                event_id=event_id, event_type=event_type, payload=payload
            )
        handler = HANDLERS.get(event_type)
        if handler is None:
            outcome, reason = Outcome.UNKNOWN_TYPE, f"No handler for {event_type!r}."
        else:
            outcome, reason = handler(payload=payload)
        event.outcome, event.reason = outcome, reason
        event.save(update_fields=["outcome", "reason"])
    logger.info("Payment event %s (%s): %s", event_id, event_type, outcome)
    return event, True


def _redelivery(
    *, event_id: str, event_type: str, payload: dict[str, Any]
) -> tuple[WebhookEvent, bool]:
    """Count a delivery of an event already recorded; return ``(event, False)``."""
    WebhookEvent.objects.filter(event_id=event_id).update(
        redeliveries=F("redeliveries") + 1
    )
    event = WebhookEvent.objects.get(event_id=event_id)
    if (event.type, event.payload) != (event_type, payload):
        logger.warning(
            "Payment event %s redelivered with other content; kept the first.",
            event_id,
        )
    return event, False


def payment_event_accept(
    *, body: bytes, signature: str | None, source: str
) -> tuple[WebhookEvent, bool]:
    """Check a signed event body, then receive it; return ``(event, created)``.

    The webhook's view and the broker's consumer both call this, so an event
    is checked and applied the same way whichever way it came. Raise
    InvalidSignature when ``signature`` does not sign ``body`` with
    ``WEBHOOK_SECRET``, ParseError when the body is not strict JSON, and
    ValidationError when it is not an event ``{id, type, data}``; nothing is
    stored then.
    """
    signature_verify(body=body, header=signature, secret=settings.WEBHOOK_SECRET)
    params = PaymentEventSerializer(data=event_body_parse(body))
    params.is_valid(raise_exception=True)
    return payment_event_receive(
        event_id=params.validated_data["id"],
        event_type=params.validated_data["type"],
        payload=params.initial_data,
        source=source,
    )
