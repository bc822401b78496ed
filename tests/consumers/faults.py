"""A fault of no known class, loaded by a test worker: events named ``evt_error_*`` raise.

``evt_error_once_*`` raises on its first attempt in this worker only, so it
is applied on the next one; every other ``evt_error_*`` raises every time.
"""

from django.db.models.signals import pre_save
from django.dispatch import receiver

from webhooks.models import WebhookEvent

_seen = set()


class PaymentFault(Exception):
    """An error the consumer does not know."""


@receiver(pre_save, sender=WebhookEvent)
def fail_named_events(instance, **kwargs):
    event_id = instance.event_id
    if event_id.startswith("evt_error_once_"):
        if event_id not in _seen:
            _seen.add(event_id)
            raise PaymentFault(f"first attempt at {event_id}")
    elif event_id.startswith("evt_error_"):
        raise PaymentFault(f"cannot apply {event_id}")
