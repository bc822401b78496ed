"""Moving messages between RabbitMQ queues, each confirmed before its original is acked.

Used to put dead letters back (``manage.py redrive_dead_letters``) and to turn
classic queues of the payment events into quorum queues at worker start.
"""

import logging
from typing import Any

from amqp.exceptions import NotFound, PreconditionFailed
from kombu import Connection, Producer, Queue
from kombu.exceptions import ChannelError

from consumers.payment_events import (
    BROKER_HEADERS,
    ERRORS_HEADER,
    REASON_HEADER,
    dead_queue,
    message_body,
    payment_events_queue,
    quorum_transport,
)

logger = logging.getLogger(__name__)

#: Where the messages of a classic queue wait while it is declared again.
MIGRATING_SUFFIX = ".migrating"


def queue_length(connection: Connection, name: str) -> int:
    """Return how many messages wait on the existing queue ``name`` (0 when none)."""
    channel = connection.channel()
    try:
        _, count, _ = channel.queue_declare(queue=name, passive=True)
    except (NotFound, ChannelError):
        return 0
    finally:
        _close(channel)
    return count


def messages_move(connection: Connection, source: str, target: Queue) -> int:
    """Move the messages waiting on ``source`` onto ``target``; return how many.

    Each copy is published with the broker's confirm before its original is
    acknowledged: a fault between the two leaves a copy too, never none, and
    every consumer applies a message once. Only the messages waiting when the
    move starts are moved, so one that comes back meanwhile is not moved
    twice. The reason of a dead letter, its count of errors and the broker's
    own headers are dropped: a moved message starts afresh.
    """
    if quorum_transport(connection):
        connection = connection.clone(
            transport_options={**connection.transport_options, "confirm_publish": True}
        )
    with connection:
        total = queue_length(connection, source)
        channel = connection.channel()
        producer = Producer(channel)
        moved = 0
        try:
            while moved < total:
                message = Queue(source, no_declare=True)(channel).get(no_ack=False)
                if message is None:
                    break
                headers = {
                    key: value
                    for key, value in (message.headers or {}).items()
                    if key not in (*BROKER_HEADERS, REASON_HEADER, ERRORS_HEADER)
                    and not key.startswith("x-last-death")
                }
                producer.publish(
                    message_body(message),
                    routing_key=target.routing_key,
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode="persistent",
                    declare=[target],
                )
                message.ack()
                moved += 1
        finally:
            _close(channel)
    return moved


def payment_queues_declare(connection: Connection) -> None:
    """Declare both payment-events queues, as quorum queues on RabbitMQ.

    A classic queue of either name (from an earlier version) cannot be
    declared again with other arguments: its messages are moved to a
    temporary queue, it is deleted, declared as a quorum queue, and its
    messages are moved back.
    """
    quorum = quorum_transport(connection)
    for queue in (dead_queue(quorum=quorum), payment_events_queue(quorum=quorum)):
        channel = connection.channel()
        try:
            queue(channel).declare()
        except PreconditionFailed:
            _migrate(connection, queue)
        finally:
            _close(channel)


def _migrate(connection: Connection, queue: Queue) -> None:
    """Turn the classic queue ``queue.name`` into ``queue``, keeping its messages."""
    holding = Queue(queue.name + MIGRATING_SUFFIX, durable=True)
    holding.routing_key = holding.name
    moved = messages_move(connection, queue.name, holding)
    channel = connection.channel()
    try:
        channel.queue_delete(queue=queue.name, if_empty=True)
        queue(channel).declare()
    finally:
        _close(channel)
    back = messages_move(connection, holding.name, queue)
    channel = connection.channel()
    try:
        channel.queue_delete(queue=holding.name, if_empty=True)
    finally:
        _close(channel)
    logger.warning(
        "Queue %s is now a quorum queue; %d message(s) moved over (%d back).",
        queue.name,
        moved,
        back,
    )


def _close(channel: Any) -> None:
    """Close a channel, which a channel error may have closed already."""
    if getattr(channel, "is_open", True):
        channel.close()
