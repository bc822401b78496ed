"""Signing and posting provider events the way the payment provider does."""

import hashlib
import hmac
import json
from itertools import count
from typing import Any

from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from orders.models import Order
from tests.factories import make_user

URL = "/api/webhooks/payments/"
_serial = count(1)


def signature(body: bytes, secret: str | None = None) -> str:
    """Return the X-Signature value for ``body``, by default under the configured secret."""
    key = (settings.WEBHOOK_SECRET if secret is None else secret).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def encode(event: Any) -> bytes:
    return json.dumps(event).encode()


def deliver(body: bytes, *, sig: str | None = "sign", client: APIClient | None = None):
    """POST ``body``; ``sig`` is the header value, "sign" to sign it, None to omit it."""
    headers = {}
    if sig == "sign":
        headers["X-Signature"] = signature(body)
    elif sig is not None:
        headers["X-Signature"] = sig
    return (client or APIClient()).post(
        URL, body, content_type="application/json", headers=headers
    )


def payment_succeeded(order_id: Any, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{next(_serial)}",
        "type": "payment.succeeded",
        "data": {"order_id": order_id},
    }


def make_order(*, owner: User | None = None, status: str = "pending") -> Order:
    """Create an order and walk it to ``status`` through the state machine."""
    order, _ = Order.objects.get_or_create_by_client_id(
        owner=owner or make_user(),
        client_id=f"client-{next(_serial)}",
        product_id=7,
        quantity=1,
    )
    path = {
        "pending": [],
        "processing": ["processing"],
        "completed": ["processing", "completed"],
        "cancelled": ["cancelled"],
    }[status]
    for step in path:
        order, _ = Order.objects.transition(order.pk, to=step)
    return order


def history(order: Order) -> list[str]:
    return list(order.events.values_list("status", flat=True))
