"""Publishing to the outbox, handing messages to the broker, and delivering them."""

import logging
import smtplib
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Now
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from kombu.exceptions import OperationalError

from consumers.models import IdempotentCall
from observability.metrics import OUTBOX_MESSAGES
from outbox.conf import outbox_settings
from outbox.mail import mail_payload, mail_send
from outbox.models import CRASH_LIMIT, CRASHED, ERROR_LIMIT, OutboxMessage, db_now
from webhooks.models import WebhookEvent

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


def message_deliver(*, dedupe_key: str) -> Delivery:
    """Carry out the message once: send it, then record that it was sent.

    No transaction is open while the mail server is spoken to: the claim and
    the record are single statements on each side of the conversation, and
    the claim counts the attempt before it starts. Failures have classes
    (docs/outbox.md#failures): a permanent refusal fails the message at once;
    a temporary one is retried with backoff until GIVE_UP_AFTER_SECONDS after
    the first attempt; any other error is retried ERROR_LIMIT times; a
    message whose CRASH_LIMIT attempts never finished fails as ``crashed``.
    Database errors propagate: the task retries them (outbox/tasks.py).
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
    if OutboxMessage.objects.fail_crashed(message.pk):
        OUTBOX_MESSAGES.labels(message.topic, "failed").inc()
        logger.error(
            "Outbox message %s failed: %d attempts never finished (%s).",
            dedupe_key,
            CRASH_LIMIT,
            CRASHED,
        )
        return Delivery("failed")
    lease = outbox_settings.LEASE_SECONDS
    if not OutboxMessage.objects.claim(message.pk, lease_seconds=lease):
        # Another worker holds it, or took it since the read above (then for a
        # whole lease): look again when that lease ends, and find it done.
        now = timezone.now()
        held_until = message.leased_until or now + timedelta(seconds=lease)
        return Delivery("busy", retry_in=max((held_until - now).total_seconds(), 1.0))
    try:
        mail_send(pk=message.pk, dedupe_key=dedupe_key, payload=message.payload)
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001  every error is classed and recorded
        return _attempt_failed(message, exc)
    if not _record_sent(message.pk):
        logger.warning("Outbox message %s was sent by two workers.", dedupe_key)
    OUTBOX_MESSAGES.labels(message.topic, "sent").inc()
    return Delivery("sent")


#: Pauses between attempts to record a sent mail while the database is down:
#: about a lease in all, during which no other worker takes the message.
_RECORD_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def _record_sent(pk: int) -> bool:
    """Mark the message done, waiting for a database that is down; return mark_done's answer.

    The mail server has accepted the mail: a retried task would send it
    again, so the record is retried here, within the lease, instead.
    """
    for pause in _RECORD_PAUSES:
        try:
            return OutboxMessage.objects.mark_done(pk)
        except DatabaseError:
            logger.warning(
                "Outbox message %s sent; recording it waits for the database.", pk
            )
            close_old_connections()
            time.sleep(pause)
    return OutboxMessage.objects.mark_done(pk)


def _attempt_failed(message: OutboxMessage, exc: Exception) -> Delivery:
    """Record a failed attempt by its class; return whether and how to retry."""
    reason = _describe(exc)
    if _permanent(exc):
        give_up, counted = True, False
    elif isinstance(exc, (smtplib.SMTPException, OSError)):
        first = message.first_attempt_at or timezone.now()
        elapsed = (timezone.now() - first).total_seconds()
        give_up, counted = elapsed >= outbox_settings.GIVE_UP_AFTER_SECONDS, False
    else:
        give_up, counted = message.other_errors + 1 >= ERROR_LIMIT, True
    OutboxMessage.objects.release(
        message.pk, error=reason, give_up=give_up, counted=counted
    )
    outcome = "failed" if give_up else "retried"
    OUTBOX_MESSAGES.labels(message.topic, outcome).inc()
    logger.warning(
        "Outbox message %s, attempt %d: %s (%s).",
        message.dedupe_key,
        message.attempts + 1,
        reason,
        "given up" if give_up else "will retry",
    )
    return Delivery(outcome, backoff=not give_up)


def _permanent(exc: Exception) -> bool:
    """Return whether the mail server refused the message for good (a 5xx reply).

    A refusal of the sender or of the data, or of every recipient, is; a
    refused login (a setting to fix) and a lost connection are not.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def messages_retry(pks: list[int]) -> int:
    """Put failed messages back to pending and hand them over; return how many.

    Their attempts and last error stay; the day of retries, the count of
    unfinished attempts and that of errors of no known class start again. Each
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
                finished_attempts=F("attempts"),
                other_errors=0,
                relayed_at=Now(),
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
    """Return the error as a reason: the server's reply, or the class and message.

    The mail server's password never appears in it, even where an error
    message would quote it.
    """
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_decode(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "; ".join(
            f"{code} {_decode(reply)}" for code, reply in exc.recipients.values()
        )
    else:
        text = f"{type(exc).__name__}: {exc}"
    secret = settings.EMAIL_HOST_PASSWORD
    return text.replace(secret, "[secret]") if secret else text


def _decode(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def records_purge(*, dry_run: bool = False) -> dict[str, int]:
    """Delete processed-message records older than RETENTION_DAYS; return counts.

    Done outbox messages (by ``done_at``), payment events from the webhook
    and the queue (by ``received_at``) and completed ``@idempotent`` call
    keys (by ``created_at``), compared on the database's clock. Failed
    messages are kept. Each batch of PURGE_BATCH_SIZE rows is its own
    transaction, and the purge sleeps PURGE_PAUSE_FACTOR times as long as a
    batch took before the next, so it never holds many locks or the disk.
    """
    cutoff = db_now(plus=-outbox_settings.RETENTION_DAYS * 24 * 60 * 60)
    sets = {
        "outbox messages": OutboxMessage.objects.filter(
            state=OutboxMessage.State.DONE, done_at__lt=cutoff
        ),
        "payment events": WebhookEvent.objects.filter(received_at__lt=cutoff),
        "idempotent calls": IdempotentCall.objects.calls().filter(
            state=IdempotentCall.State.COMPLETED, created_at__lt=cutoff
        ),
    }
    if dry_run:
        return {name: rows.count() for name, rows in sets.items()}
    return {name: _purge_in_batches(rows) for name, rows in sets.items()}


def _purge_in_batches(rows: QuerySet[Any]) -> int:
    """Delete ``rows`` a batch at a time, pausing after each; return how many."""
    size = outbox_settings.PURGE_BATCH_SIZE
    deleted = 0
    while True:
        started = time.monotonic()
        pks = list(rows.order_by().values_list("pk", flat=True)[:size])
        if not pks:
            return deleted
        deleted += rows.model.objects.filter(pk__in=pks).delete()[0]
        if len(pks) < size:
            return deleted
        time.sleep((time.monotonic() - started) * outbox_settings.PURGE_PAUSE_FACTOR)
