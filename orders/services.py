"""Order workflows that reach past the order itself: the receipt mail."""

from django.db import transaction

from orders.models import Order
from outbox.services import mail_publish


def order_transition(*, order_id: int, to: str) -> tuple[Order, bool]:
    """Move the order to ``to`` like ``Order.objects.transition``; return ``(order, changed)``.

    When the order becomes completed, its receipt is written to the outbox in
    the same transaction, so it is sent once whatever the number of retries.
    Raise what ``transition`` raises.
    """
    with transaction.atomic():
        order, changed = Order.objects.transition(order_id, to=to)
        if changed and order.status == Order.Status.COMPLETED:
            receipt_email_publish(order=order)
    return order, changed


def receipt_email_publish(*, order: Order) -> None:
    """Write the receipt of a completed order to the outbox, once per order."""
    owner = order.owner
    mail_publish(
        topic="mail.receipt",
        dedupe_key=f"receipt:{order.pk}",
        to=[owner.email],
        subject=f"Your Idem order #{order.pk} is complete",
        body=(
            f"Hello {owner.name or owner.email},\n\n"
            f"your order #{order.pk} ({order.quantity} x product {order.product_id}) "
            "is complete.\n"
        ),
    )
