"""Publishing to the outbox, retrying failed messages and purging processed records."""

import time
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Now
from django.db.transaction import TransactionManagementError

from consumers.models import IdempotentCall
from core.clock import db_now
from outbox.broker import message_hand_over
from outbox.conf import outbox_settings
from outbox.mail import mail_payload
from outbox.models import OutboxMessage
from webhooks.models import WebhookEvent

#: The kinds of topic a worker can carry out, by the part before the first dot.
TOPIC_KINDS = ("mail",)


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
    return {name: rows_purge_in_batches(rows) for name, rows in sets.items()}


def rows_purge_in_batches(rows: QuerySet[Any]) -> int:
    """Delete ``rows`` a batch at a time, pausing after each; return how many.

    A batch of PURGE_BATCH_SIZE rows is one transaction (with the rows that
    cascade from them); the pause after it is PURGE_PAUSE_FACTOR times as
    long as it took. The count is of ``rows``' model only.
    """
    size = outbox_settings.PURGE_BATCH_SIZE
    deleted = 0
    while True:
        started = time.monotonic()
        pks = list(rows.order_by().values_list("pk", flat=True)[:size])
        if not pks:
            return deleted
        # ``rows`` again, so a row that stopped matching since is kept.
        _, per_model = rows.filter(pk__in=pks).delete()
        deleted += per_model.get(rows.model._meta.label, 0)
        if len(pks) < size:
            return deleted
        time.sleep((time.monotonic() - started) * outbox_settings.PURGE_PAUSE_FACTOR)
