"""Rows and transactions of the Idempotency-Key layer: claim, record, release, purge.

The store never sees a request or a response: the HTTP layer hands it an
``Attempt`` and a ``Reply``.
"""

import time
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Max, Min, Q
from django.db.models.functions import Now
from django.db.transaction import TransactionManagementError

from idempotency import sql
from idempotency.conf import idempotency_settings
from idempotency.exceptions import KeyInUse, KeyMismatch
from idempotency.metrics import WAIT_SECONDS
from idempotency.models import IdempotencyKey
from idempotency.records import Attempt, Found, Reply
from idempotency.statements import rows_span_shards


def database_alias() -> str:
    """Return the database alias the keys are written to."""
    return router.db_for_write(IdempotencyKey)


def _reply(found: Found) -> Reply:
    headers = {"Content-Type": found.content_type} if found.content_type else {}
    if found.location:
        headers["Location"] = found.location
    return Reply(status=found.status_code or 200, body=found.body, headers=headers)


def _take_over(found: Found, attempt: Attempt, *, ttl_seconds: int) -> bool:
    """Reuse an expired or abandoned row for ``attempt``; return whether it was.

    Expiry is on the database's clock (``Now()``), as in ``sql.insert_or_find``.
    """
    now = Now()
    expires_at = ExpressionWrapper(
        now + timedelta(seconds=ttl_seconds), output_field=DateTimeField()
    )
    return bool(
        IdempotencyKey.objects.filter(owner_id=attempt.owner, pk=found.pk)
        .filter(Q(expires_at__lte=now) | ~Q(state=IdempotencyKey.State.COMPLETED))
        .update(
            method=attempt.method,
            path=attempt.path,
            fingerprint=attempt.fingerprint,
            state=IdempotencyKey.State.IN_FLIGHT,
            status_code=None,
            response_body=b"",
            content_type="",
            location="",
            created_at=now,
            expires_at=expires_at,
        )
    )


def _try_claim(
    using: str, attempt: Attempt, *, ttl_seconds: int
) -> tuple[bool, Reply | None]:
    """Try to claim the key once; return (settled, the stored reply or None).

    Not settled: another transaction holds the key, ask again later. Raise
    KeyMismatch when the key was used with another fingerprint.
    """
    found = sql.insert_or_find(using, attempt, ttl_seconds=ttl_seconds)
    if found is None:
        return False, None
    if found.claimed:
        return True, None
    if found.state == IdempotencyKey.State.COMPLETED and not found.expired:
        if not attempt.matches(found.fingerprint):
            raise KeyMismatch
        return True, _reply(found)
    # Expired, or left incomplete by a transaction that committed without
    # recording; with the advisory lock no one else is working on it. A
    # take-over that updates nothing met the purge: look again.
    taken = found.lock_held and _take_over(found, attempt, ttl_seconds=ttl_seconds)
    return taken, None


def claim(
    attempt: Attempt,
    *,
    ttl_seconds: int | None = None,
    wait_seconds: float | None = None,
) -> Reply | None:
    """Claim the attempt's key in the current transaction, or return its stored reply.

    Return None when the caller now owns the key: it runs the request, then
    calls ``record()`` in the same transaction, or rolls the transaction back,
    which releases the key. Return the stored Reply when a request with the
    same fingerprint completed under the key. An expired key is claimed anew.

    Raise KeyMismatch when the key was used with another fingerprint, and
    KeyInUse when another transaction still holds the key after
    ``wait_seconds``. Raise TransactionManagementError outside
    ``transaction.atomic()``. ``ttl_seconds`` and ``wait_seconds`` default to
    the settings ``TTL_SECONDS`` and ``IN_FLIGHT_WAIT_SECONDS``.
    """
    using = database_alias()
    if not connections[using].in_atomic_block:
        raise TransactionManagementError("claim() must run inside transaction.atomic()")
    if ttl_seconds is None:
        ttl_seconds = idempotency_settings.TTL_SECONDS
    if wait_seconds is None:
        wait_seconds = idempotency_settings.IN_FLIGHT_WAIT_SECONDS
    started = time.monotonic()
    settled, reply = _try_claim(using, attempt, ttl_seconds=ttl_seconds)
    pause, slept = 0.01, False
    try:
        while not settled:
            remaining = started + wait_seconds - time.monotonic()
            if remaining <= 0:
                raise KeyInUse(wait=idempotency_settings.RETRY_AFTER_SECONDS)
            time.sleep(min(pause, remaining))
            pause, slept = min(pause * 2, 0.2), True
            settled, reply = _try_claim(using, attempt, ttl_seconds=ttl_seconds)
    finally:
        if slept:
            WAIT_SECONDS.observe(time.monotonic() - started)
    return reply


def record(attempt: Attempt, reply: Reply) -> None:
    """Store ``reply`` under the key claimed by ``attempt`` in this transaction.

    Raise TransactionManagementError when the key was not claimed.
    """
    stored = sql.complete(database_alias(), attempt, reply)
    if not stored:
        raise TransactionManagementError("record() without a claim() of the key")


def release(attempt: Attempt) -> None:
    """Give up the key claimed by ``attempt`` and keep the transaction's other work."""
    IdempotencyKey.objects.for_owner(attempt.owner, attempt.scope).filter(
        key=attempt.key, state=IdempotencyKey.State.IN_FLIGHT
    ).delete()


def purge_expired(
    *,
    batch_size: int | None = None,
    pause_factor: float | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> int:
    """Delete expired keys, ``batch_size`` rows at most per transaction; return how many.

    Expired means at ``now``, by default the database's now.

    With ``dry_run`` return how many would be deleted and delete nothing. Rows
    locked by a request that is taking over an expired key are skipped.

    The batches walk the primary key in windows of ``batch_size`` ids, from
    the first expired key to the last: each is one DELETE whose rows an index
    range finds, so a batch never reads again the rows earlier batches
    deleted (a scan for "the next N expired rows" would, until VACUUM), and
    no id travels to Python. Between batches the purge sleeps
    ``pause_factor`` times as long as the last batch took: the busier the
    database, the longer the pause. On Citus, which locks rows only on one
    shard at a time, a batch does not skip locked rows: it waits for them,
    and a key that a request took over in the meantime is no longer expired.
    """
    batch_size = batch_size or idempotency_settings.PURGE_BATCH_SIZE
    if pause_factor is None:
        pause_factor = idempotency_settings.PURGE_PAUSE_FACTOR
    expired = IdempotencyKey.objects.expired(now).order_by()
    if dry_run:
        return expired.count()
    alias = database_alias()
    bounds = expired.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        return 0
    total, took = 0, 0.0
    for start in range(bounds["first"], bounds["last"] + 1, batch_size):
        if took and pause_factor:
            time.sleep(took * pause_factor)
        began = time.monotonic()
        with transaction.atomic(using=alias):
            window = expired.filter(pk__gte=start, pk__lt=start + batch_size)
            if rows_span_shards(alias):
                deleted, _ = window.delete()
            else:
                batch = window.select_for_update(skip_locked=True).values("pk")
                deleted, _ = IdempotencyKey.objects.filter(pk__in=batch).delete()
        took = time.monotonic() - began
        total += deleted
    return total
