"""Carrying out one outbox message: claim it, send the mail, record it, class failures."""

import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from observability.metrics import OUTBOX_MESSAGES
from outbox.conf import outbox_settings
from outbox.mail import mail_send
from outbox.models import CRASH_LIMIT, CRASHED, ERROR_LIMIT, OutboxMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did; ``retry_in`` asks for another attempt."""

    outcome: str
    retry_in: float | None = None
    backoff: bool = False


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
        # The lease ends by the database's clock: this host's is only a guess,
        # bounded by one lease.
        now = timezone.now()
        held_until = message.leased_until or now + timedelta(seconds=lease)
        wait = min(max((held_until - now).total_seconds(), 1.0), lease)
        return Delivery("busy", retry_in=wait)
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
        give_up = OutboxMessage.objects.tried_for(
            message.pk, seconds=outbox_settings.GIVE_UP_AFTER_SECONDS
        )
        counted = False
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
