"""Publishing to the outbox, handing messages to the broker, and delivering them."""

import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from kombu.exceptions import OperationalError

from observability.metrics import OUTBOX_MESSAGES
from outbox.conf import outbox_settings
from outbox.mail import mail_payload, mail_send
from outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

#: The Celery task that carries out one message, named in outbox/tasks.py.
DELIVER_TASK = "outbox.deliver"

#: The kinds of topic a worker can carry out, by the part before the first dot.
TOPIC_KINDS = ("mail",)


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did; ``retry_in`` asks for another attempt."""

    outcome: str
    retry_in: float | None = None
    backoff: bool = False


def publish(
    topic: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str,
    owner: int = OutboxMessage.NO_OWNER,
) -> None:
    """Write a message in the caller's transaction; hand it over after the commit.

    One INSERT that does nothing when ``dedupe_key`` exists: a retried business
    transaction adds no second message. ``owner`` is the id of the user whose
    change causes the message, so that the message sits on that user's shard;
    a dedupe key names what it is about (``receipt:<order id>``), so it is
    unique whoever the owner is. Raise TransactionManagementError
    outside ``transaction.atomic()``, where the message would not share the
    fate of the change that causes it, and ValueError for a topic no worker
    carries out.
    """
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "outbox.publish() must run inside the transaction of the change it follows."
        )
    if topic.partition(".")[0] not in TOPIC_KINDS:
        raise ValueError(f"no worker carries out the topic {topic!r}")
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                owner_id=owner, topic=topic, payload=payload, dedupe_key=dedupe_key
            )
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(
        partial(message_hand_over, dedupe_key=dedupe_key, topic=topic)
    )


def mail_publish(
    *,
    topic: str,
    dedupe_key: str,
    to: list[str],
    subject: str,
    body: str,
    owner: int = OutboxMessage.NO_OWNER,
) -> None:
    """Publish a plain-text mail; see publish()."""
    publish(
        topic,
        mail_payload(to=to, subject=subject, body=body),
        dedupe_key=dedupe_key,
        owner=owner,
    )


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
    return (OperationalError, OSError, *conn.connection_errors, *conn.channel_errors)


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
    the broker lost.
    """
    now = timezone.now()
    messages = list(
        OutboxMessage.objects.relayable(
            now=now,
            relay_after=outbox_settings.RELAY_AFTER_SECONDS,
            rehand_after=outbox_settings.REHAND_AFTER_SECONDS,
        ).values_list("pk", "dedupe_key", "topic")[: outbox_settings.RELAY_BATCH_SIZE]
    )
    for _, dedupe_key, topic in messages:
        current_app.send_task(DELIVER_TASK, args=[dedupe_key])
        OUTBOX_MESSAGES.labels(topic, "relayed").inc()
    OutboxMessage.objects.filter(pk__in=[pk for pk, _, _ in messages]).update(
        relayed_at=now
    )
    if messages:
        logger.info("Relay handed over %d outbox message(s).", len(messages))
    return len(messages)


def message_deliver(*, dedupe_key: str) -> Delivery:
    """Carry out the message once: send it, then record that it was sent.

    No transaction is open while the mail server is spoken to: the claim and
    the record are single statements on each side of the conversation. A
    message held by another worker asks to be retried when that worker's lease
    ends; a failure asks for a retry with backoff until GIVE_UP_AFTER_SECONDS
    after the first attempt, then marks the message failed.
    """
    message = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
    if message is None:
        logger.warning("Outbox message %s does not exist; nothing to do.", dedupe_key)
        return Delivery("missing")
    if message.state == OutboxMessage.State.DONE:
        OUTBOX_MESSAGES.labels(message.topic, "duplicate").inc()
        return Delivery("duplicate")
    if message.state == OutboxMessage.State.FAILED:
        return Delivery("failed")
    now = timezone.now()
    lease = outbox_settings.LEASE_SECONDS
    if not OutboxMessage.objects.claim(message.pk, now=now, lease_seconds=lease):
        # Another worker holds it, or took it since the read above (then for a
        # whole lease): look again when that lease ends, and find it done.
        held_until = message.leased_until or now + timedelta(seconds=lease)
        return Delivery("busy", retry_in=max((held_until - now).total_seconds(), 1.0))
    try:
        mail_send(pk=message.pk, dedupe_key=dedupe_key, payload=message.payload)
    except (smtplib.SMTPException, OSError) as exc:
        first = message.first_attempt_at or now
        give_up = (now - first).total_seconds() >= outbox_settings.GIVE_UP_AFTER_SECONDS
        OutboxMessage.objects.release(message.pk, error=_describe(exc), give_up=give_up)
        outcome = "failed" if give_up else "retried"
        OUTBOX_MESSAGES.labels(message.topic, outcome).inc()
        logger.warning(
            "Outbox message %s, attempt %d: %s (%s).",
            dedupe_key,
            message.attempts + 1,
            _describe(exc),
            "given up" if give_up else "will retry",
        )
        return Delivery(outcome, backoff=not give_up)
    if not OutboxMessage.objects.mark_done(message.pk, now=timezone.now()):
        logger.warning("Outbox message %s was sent by two workers.", dedupe_key)
    OUTBOX_MESSAGES.labels(message.topic, "sent").inc()
    return Delivery("sent")


def messages_retry(pks: list[int]) -> int:
    """Put failed messages back to pending and hand them over; return how many.

    Their attempts and last error stay; the day of retries starts again. Each
    message is put back by a conditional UPDATE on its owner's shard, so of
    concurrent retries of one message exactly one hands it over.
    """
    failed = OutboxMessage.State.FAILED
    messages = []
    with transaction.atomic():
        for message in OutboxMessage.objects.filter(pk__in=pks, state=failed):
            put_back = OutboxMessage.objects.filter(
                owner_id=message.owner_id, pk=message.pk, state=failed
            ).update(
                state=OutboxMessage.State.PENDING,
                leased_until=None,
                first_attempt_at=None,
                relayed_at=timezone.now(),
            )
            if put_back:
                messages.append(message)
        for message in messages:
            transaction.on_commit(
                partial(
                    message_hand_over,
                    dedupe_key=message.dedupe_key,
                    topic=message.topic,
                )
            )
    return len(messages)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    return f"{type(exc).__name__}: {exc}"
