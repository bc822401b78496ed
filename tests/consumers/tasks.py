"""A Celery task made idempotent with ``@idempotent``, loaded by the test workers."""

from celery import shared_task

from idempotency.functions import idempotent
from orders.models import Order


@shared_task
@idempotent(key="order-note-{message_id}")
def order_note(message_id, order_id):
    """Record one more event on the order: an effect that is not idempotent itself."""
    order = Order.objects.get(pk=order_id)
    order.events.create(status=order.status)
    return order.events.count()
