"""Payment events from the broker: each message checked and applied as the webhook's.

A message's body is the webhook's JSON body and its header ``x-signature``
the webhook's signature. A valid event goes through
``webhooks.services.payment_event_accept``, the webhook's own function, and
is acknowledged after its transaction committed. A message that is not a
signed event goes to ``PAYMENT_EVENTS_DEAD_QUEUE`` with the reason, is
acknowledged and never retried. A database error leaves it unacknowledged:
it is put back on the queue after a pause, to be applied later.
"""

import json
import logging
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from kombu import Producer, Queue
from kombu.message import Message
from rest_framework.exceptions import ParseError, ValidationError

from observability.metrics import CONSUMED_MESSAGES
from webhooks.exceptions import InvalidSignature
from webhooks.models import WebhookEvent
from webhooks.services import payment_event_accept

logger = logging.getLogger(__name__)

#: The ``consumer`` label of this consumer's metrics.
CONSUMER = "payment-events"
SIGNATURE_HEADER = "x-signature"
#: The header a dead message carries, naming why it was refused.
REASON_HEADER = "x-dead-reason"
# Pauses before a message that met a database error goes back on the queue.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 5.0


def payment_events_queue() -> Queue:
    """Return the durable queue of payment events, on the default exchange."""
    name = settings.PAYMENT_EVENTS_QUEUE
    return Queue(name, routing_key=name, durable=True)


def dead_queue() -> Queue:
    """Return the durable queue where refused payment events are kept."""
    name = settings.PAYMENT_EVENTS_DEAD_QUEUE
    return Queue(name, routing_key=name, durable=True)


class PaymentEventsConsumer:
    """Apply each payment event of the queue once; send the malformed ones aside."""

    def __init__(self, channel: Any) -> None:
        self.queue = payment_events_queue()
        self.dead = dead_queue()
        self.producer = Producer(channel)
        self.failures = 0

    def on_message(self, message: Message) -> None:
        """Apply, or send aside, one message; acknowledge it unless the database failed."""
        close_old_connections()
        try:
            event, created = payment_event_accept(
                body=_body(message),
                signature=(message.headers or {}).get(SIGNATURE_HEADER),
                source=WebhookEvent.Source.BROKER,
            )
        except (InvalidSignature, ParseError, ValidationError) as exc:
            self._send_aside(message, reason=_reason(exc))
            return
        except DatabaseError:
            logger.exception("Payment event not applied; it goes back on the queue.")
            self._put_back(message)
            return
        except Exception as exc:
            # An error raised here would stop the whole worker, and the message,
            # put back first in line, would stop every later one: keep it aside.
            logger.exception("Payment event failed; sent aside.")
            self._send_aside(message, reason=f"error: {type(exc).__name__}")
            return
        finally:
            close_old_connections()
        self.failures = 0
        message.ack()
        outcome = "applied" if created else "duplicate"
        CONSUMED_MESSAGES.labels(CONSUMER, outcome).inc()
        logger.info("Payment event %s from the broker: %s", event.event_id, outcome)

    def _send_aside(self, message: Message, *, reason: str) -> None:
        """Publish the message unchanged to the dead queue, with the reason; ack it."""
        headers = {**(message.headers or {}), REASON_HEADER: reason}
        self.producer.publish(
            _body(message),
            routing_key=self.dead.routing_key,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode="persistent",
            declare=[self.dead],
        )
        message.ack()
        CONSUMED_MESSAGES.labels(CONSUMER, "dead").inc()
        logger.warning("Payment event refused, sent to %s: %s", self.dead.name, reason)

    def _put_back(self, message: Message) -> None:
        """Requeue the message after a pause that grows with each failure in a row.

        The pause keeps a database outage from turning into a loop that takes
        and returns the same message as fast as the broker allows.
        """
        pause = min(_FIRST_PAUSE * 2**self.failures, _LONGEST_PAUSE)
        self.failures += 1
        time.sleep(pause)
        message.requeue()


def _body(message: Message) -> bytes:
    """Return the message's body as the bytes the provider signed.

    The AMQP client hands over a body with a content encoding as text,
    decoded from those bytes; encoding it again gives them back.
    """
    body = message.body
    if isinstance(body, str):
        return body.encode(message.content_encoding or "utf-8")
    return body


def _reason(exc: InvalidSignature | ParseError | ValidationError) -> str:
    """Return why a message was refused: the error's code, then its detail."""
    if isinstance(exc, ValidationError):
        return f"invalid: {json.dumps(exc.detail)}"
    return f"{exc.default_code}: {exc.detail}"
