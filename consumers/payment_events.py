"""Payment events from the broker: each message checked and applied as the webhook's.

A message's body is the webhook's JSON body and its header ``x-signature``
the webhook's signature. A valid event goes through
``webhooks.services.payment_event_accept``, the webhook's own function, and
is acknowledged after its transaction committed. A message that is not a
signed event goes to ``PAYMENT_EVENTS_DEAD_QUEUE`` with the reason, is
acknowledged once the broker confirmed the dead copy, and never retried. A
database error puts a copy at the end of the queue (confirmed) after a
pause, then acknowledges the original, to be applied later; a copy has a
delivery count of its own. Any other error does the same, counted in the
copy's ``x-errors`` header: the ERROR_LIMIT-th goes to the dead queue with
the error's class and message.

On RabbitMQ both queues are quorum queues: a message delivered
``DELIVERY_LIMIT + 1`` times without being acknowledged (a message that
kills the worker) goes to the dead queue by the broker's own dead-lettering.
"""

import json
import logging
import time
from typing import Any

from amqp.exceptions import MessageNacked
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from kombu import Connection, Producer, Queue
from kombu.exceptions import OperationalError
from kombu.message import Message
from rest_framework.exceptions import ParseError, ValidationError

from observability.metrics import CONSUMED_MESSAGES
from outbox.models import ERROR_LIMIT
from webhooks.exceptions import InvalidSignature
from webhooks.models import WebhookEvent
from webhooks.services import payment_event_accept

logger = logging.getLogger(__name__)

#: The ``consumer`` label of this consumer's metrics.
CONSUMER = "payment-events"
SIGNATURE_HEADER = "x-signature"
#: The header a dead message carries, naming why it was refused.
REASON_HEADER = "x-dead-reason"
#: Redeliveries after which the broker dead-letters a message that never
#: finished: at most 5 deliveries in all.
DELIVERY_LIMIT = 4
#: The header counting the errors of no known class a message has met.
ERRORS_HEADER = "x-errors"
#: Headers the broker adds to a delivery or a dead letter; not carried over.
BROKER_HEADERS = ("x-delivery-count", "x-death", "x-first-death-exchange")
# Pauses before a message that met a database error goes back on the queue.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 5.0


def quorum_transport(connection: Connection) -> bool:
    """Return whether ``connection`` is to RabbitMQ, which has quorum queues."""
    return connection.transport.driver_type == "amqp"


def payment_events_queue(*, quorum: bool = True) -> Queue:
    """Return the durable queue of payment events, on the default exchange.

    With ``quorum`` (RabbitMQ), a quorum queue that dead-letters, at least
    once, each message returned DELIVERY_LIMIT times into the dead queue.
    """
    name = settings.PAYMENT_EVENTS_QUEUE
    arguments = None
    if quorum:
        arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": settings.PAYMENT_EVENTS_DEAD_QUEUE,
            # The broker keeps a message until the dead queue confirmed it;
            # this strategy needs a full queue to refuse new messages.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return Queue(name, routing_key=name, durable=True, queue_arguments=arguments)


def dead_queue(*, quorum: bool = True) -> Queue:
    """Return the durable queue where refused payment events are kept."""
    name = settings.PAYMENT_EVENTS_DEAD_QUEUE
    arguments = {"x-queue-type": "quorum"} if quorum else None
    return Queue(name, routing_key=name, durable=True, queue_arguments=arguments)


class PaymentEventsConsumer:
    """Apply each payment event of the queue once; send the malformed ones aside."""

    def __init__(self, channel: Any) -> None:
        # The worker's own connection, cloned for publishing: the consumer's
        # channel only receives, and each publish waits for the confirm.
        self.broker: Connection = channel.connection.client
        quorum = quorum_transport(self.broker)
        self.queue = payment_events_queue(quorum=quorum)
        self.dead = dead_queue(quorum=quorum)
        self.failures = 0

    def on_message(self, message: Message) -> None:
        """Apply, or send aside, one message; acknowledge it unless the database failed."""
        close_old_connections()
        try:
            event, created = payment_event_accept(
                body=message_body(message),
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
            # Raised here, it would stop the whole worker, and the message,
            # put back first in line, would stop every later one.
            logger.exception("Payment event failed.")
            self._error_met(message, exc)
            return
        finally:
            close_old_connections()
        self.failures = 0
        message.ack()
        outcome = "applied" if created else "duplicate"
        CONSUMED_MESSAGES.labels(CONSUMER, outcome).inc()
        logger.info("Payment event %s from the broker: %s", event.event_id, outcome)

    def _send_aside(self, message: Message, *, reason: str) -> None:
        """Publish the message to the dead queue, with the reason; ack it once confirmed.

        A dead copy the broker did not confirm leaves the original
        unacknowledged: it is returned to the queue, and counts towards the
        delivery limit.
        """
        if not self._publish(message, self.dead, {REASON_HEADER: reason}):
            message.requeue()
            return
        message.ack()
        CONSUMED_MESSAGES.labels(CONSUMER, "dead").inc()
        logger.warning("Payment event refused, sent to %s: %s", self.dead.name, reason)

    def _error_met(self, message: Message, exc: Exception) -> None:
        """Put the message back, counting the error; the ERROR_LIMIT-th sends it aside."""
        errors = int((message.headers or {}).get(ERRORS_HEADER, 0)) + 1
        if errors >= ERROR_LIMIT:
            reason = f"error: {type(exc).__name__}: {exc}"[:500]
            self._send_aside(message, reason=reason)
            return
        self._put_back(message, extra={ERRORS_HEADER: errors})

    def _put_back(
        self, message: Message, *, extra: dict[str, Any] | None = None
    ) -> None:
        """Put a copy at the end of the queue after a pause, then ack the original.

        The pause grows with each failure in a row, so a database outage does
        not turn into a loop that takes and returns the same message as fast
        as the broker allows. A copy is a new message: it does not count
        towards the original's delivery limit, which only crashes should.
        """
        pause = min(_FIRST_PAUSE * 2**self.failures, _LONGEST_PAUSE)
        self.failures += 1
        time.sleep(pause)
        if self._publish(message, self.queue, extra or {}):
            message.ack()
        else:
            message.requeue()

    def _publish(self, message: Message, queue: Queue, extra: dict[str, Any]) -> bool:
        """Publish a copy of ``message`` onto ``queue``; return whether it was confirmed."""
        headers = {
            key: value
            for key, value in (message.headers or {}).items()
            if key not in BROKER_HEADERS and not key.startswith("x-last-death")
        }
        connection = self.broker.clone()
        try:
            with connection:
                Producer(connection).publish(
                    message_body(message),
                    routing_key=queue.routing_key,
                    headers={**headers, **extra},
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode="persistent",
                    declare=[queue],
                    retry=True,
                    retry_policy={"max_retries": 2},
                )
        except (
            OperationalError,
            OSError,
            MessageNacked,
            *connection.connection_errors,
            *connection.channel_errors,
        ) as exc:
            logger.warning(
                "Payment event not published to %s: %s %s",
                queue.name,
                type(exc).__name__,
                exc,
            )
            return False
        return True


def message_body(message: Message) -> bytes:
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
