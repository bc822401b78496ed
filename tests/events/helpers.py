"""Running the relay and the deliveries in the test process."""

from events.broker import EventPublisher
from events.models import WebhookDelivery
from events.relay import events_relay_once
from events.services import delivery_attempt

#: Settings for fast tests: private addresses allowed, short timeout and retries.
FAST = {
    "WEBHOOK_ALLOW_PRIVATE": True,
    "WEBHOOK_TIMEOUT": 1.0,
    "WEBHOOK_RETRY_MAX_INTERVAL": 0.05,
    "WEBHOOK_RETRY_WINDOW": 60.0,
}


def relay(url="memory://"):
    """Publish every unpublished event (on kombu's in-memory broker by default)."""
    publisher = EventPublisher(url)
    try:
        while events_relay_once(publisher=publisher):
            pass
    finally:
        publisher.close()


def attempt_due():
    """Attempt every delivery that is due and first of its queue once; return the outcomes."""
    pks = WebhookDelivery.objects.due().values_list("pk", flat=True)
    return [delivery_attempt(delivery_id=pk, dispatch_next=False) for pk in list(pks)]
