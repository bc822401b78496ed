"""Handing outbox messages to the broker: after the commit, and again by the relay."""

import logging
import threading
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from celery import current_app
from django.db.models.functions import Now
from kombu.exceptions import OperationalError

from observability.metrics import OUTBOX_MESSAGES
from outbox.conf import outbox_settings
from outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

#: The Celery task that carries out one message, named in outbox/tasks.py.
DELIVER_TASK = "outbox.deliver"


def message_hand_over(*, dedupe_key: str, topic: str) -> bool:
    """Give the message to the broker, waiting about HAND_OVER_TIMEOUT; return success.

    Never raises for a broker that is down or refuses: the message stays in
    the table and the relay hands it over.
    """
    conn = getattr(_thread, "broker", None)
    try:
        if conn is not None:
            try:
                return _send(conn, dedupe_key=dedupe_key, topic=topic)
            except _broker_errors(conn):
                # The broker closed the kept connection (a restart, an idle
                # timeout): one attempt on a fresh one before giving up.
                _thread.broker = None
                conn.release()
        # One connection attempt, no retries: the relay is the retry. The
        # broker confirms each message (RabbitMQ), so a message is handed over
        # only once the broker has it, and a dead connection shows at once.
        conn = current_app.connection_for_write(
            connect_timeout=outbox_settings.HAND_OVER_TIMEOUT,
            transport_options={"max_retries": 0, "confirm_publish": True},
        )
        try:
            sent = _send(conn, dedupe_key=dedupe_key, topic=topic)
        except BaseException:
            conn.release()
            raise
        _thread.broker = conn
    except _broker_errors(conn) as exc:
        logger.warning(
            "Outbox message %s stays pending for the relay: the broker did not take it (%s).",
            dedupe_key,
            exc,
        )
        OUTBOX_MESSAGES.labels(topic, "hand_over_failed").inc()
        return False
    return sent


# Each thread keeps its connection to the broker between hand-overs: opening
# one costs a request more than the publish does.
_thread = threading.local()


def _broker_errors(conn: Any) -> tuple[type[BaseException], ...]:
    # MessageNacked: RabbitMQ refused the message (a full queue, an internal
    # error); under confirms, a refusal raises instead of losing it.
    return (
        OperationalError,
        OSError,
        MessageNacked,
        *conn.connection_errors,
        *conn.channel_errors,
    )


def _send(conn: Any, *, dedupe_key: str, topic: str) -> bool:
    current_app.send_task(
        DELIVER_TASK,
        args=[dedupe_key],
        connection=conn,
        retry=False,
        confirm_timeout=outbox_settings.HAND_OVER_TIMEOUT,
    )
    OUTBOX_MESSAGES.labels(topic, "handed_over").inc()
    return True


def messages_relay() -> int:
    """Hand over every message committed but not carried out in time; return how many.

    Run by the scheduler. It covers a hand-over that failed (a broker that was
    down), one that never ran (a crash between commit and hand-over) and a task
    that was lost (a worker that died, a delivery dropped on a database error).
    Each publish waits for the broker's confirm; a message is marked relayed
    only once confirmed, and a broker error stops the run, leaving the rest
    for the next one.
    """
    messages = list(
        OutboxMessage.objects.relayable(
            relay_after=outbox_settings.RELAY_AFTER_SECONDS,
            rehand_after=outbox_settings.REHAND_AFTER_SECONDS,
        ).values_list("pk", "dedupe_key", "topic")[: outbox_settings.RELAY_BATCH_SIZE]
    )
    relayed: list[int] = []
    try:
        with current_app.producer_or_acquire() as producer:
            for pk, dedupe_key, topic in messages:
                current_app.send_task(
                    DELIVER_TASK, args=[dedupe_key], producer=producer
                )
                relayed.append(pk)
                OUTBOX_MESSAGES.labels(topic, "relayed").inc()
    except (OperationalError, OSError, MessageNacked, AMQPError) as exc:
        logger.warning(
            "Relay stopped after %d message(s): the broker did not confirm (%s).",
            len(relayed),
            exc,
        )
    finally:
        OutboxMessage.objects.filter(pk__in=relayed).update(relayed_at=Now())
    if relayed:
        logger.info("Relay handed over %d outbox message(s).", len(relayed))
    return len(relayed)
