"""A Celery task made idempotent with ``@idempotent``, loaded by the test workers."""

from celery import shared_task
from django.db import connection

from idempotency.functions import idempotent
from orders.models import Order


@shared_task
@idempotent(key="order-note-{message_id}")
def order_note(message_id, order_id):
    """Record one more event on the order: an effect that is not idempotent itself."""
    order = Order.objects.get(pk=order_id)
    order.events.create(owner_id=order.owner_id, status=order.status)
    return order.events.count()


@shared_task
def backend_pid():
    """Return the PostgreSQL backend of the connection this pool process uses."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]
