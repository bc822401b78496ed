"""Rows and transactions of the Idempotency-Key layer: claim, record, release, purge.

The store never sees a request or a response: the HTTP layer hands it an
``Attempt`` and a ``Reply``.
"""

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from idempotency.conf import idempotency_settings
from idempotency.exceptions import KeyInUse, KeyMismatch
from idempotency.models import IdempotencyKey

# Columns written by the claim, in the order of the raw INSERT's values.
_CLAIM_COLUMNS = (
    "principal",
    "key",
    "method",
    "path",
    "fingerprint",
    "state",
    "response_body",
    "content_type",
    "location",
    "created_at",
    "expires_at",
)
# Columns read back when the key is already taken.
_FOUND_COLUMNS = (
    "id",
    "fingerprint",
    "state",
    "status_code",
    "response_body",
    "content_type",
    "location",
)


ANONYMOUS_PRINCIPAL = "anonymous"


def user_principal(user_pk: object) -> str:
    """Return the principal of the user with primary key ``user_pk``."""
    return f"user:{user_pk}"


@dataclass(frozen=True)
class Attempt:
    """A request that carries a key: who sent it, the key, and what it asked for."""

    principal: str
    key: str
    fingerprint: str
    method: str
    path: str


@dataclass(frozen=True)
class Reply:
    """A reply ready to send again: status, rendered body, Content-Type and Location."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Found(NamedTuple):
    """What the claim statement saw: our new row, or the row already there."""

    claimed: bool
    pk: int | None = None
    fingerprint: str = ""
    state: str = ""
    status_code: int | None = None
    body: bytes = b""
    content_type: str = ""
    location: str = ""
    expired: bool = False
    lock_held: bool = True


def database_alias() -> str:
    """Return the database alias the keys are written to."""
    return router.db_for_write(IdempotencyKey)


def _lock_id(attempt: Attempt) -> int:
    """Return a signed 64-bit advisory lock id for the attempt's (principal, key)."""
    digest = hashlib.sha256(
        f"idempotency\0{attempt.principal}\0{attempt.key}".encode()
    ).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Statements(NamedTuple):
    """The claim's SQL for one database vendor; identifiers come from the model."""

    claim: str
    find: str


def _statements(connection: BaseDatabaseWrapper) -> _Statements:
    quote = connection.ops.quote_name
    table = quote(IdempotencyKey._meta.db_table)
    columns = ", ".join(quote(c) for c in _CLAIM_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_CLAIM_COLUMNS))
    found = ", ".join(f"k.{quote(c)}" for c in _FOUND_COLUMNS)
    unique = f"{quote('principal')}, {quote('key')}"
    where = f"k.{quote('principal')} = %s AND k.{quote('key')} = %s"
    if connection.vendor == "postgresql":
        claim = (
            "WITH lock AS MATERIALIZED ("  # noqa: S608  identifiers only
            " SELECT pg_try_advisory_xact_lock(%s) AS held"
            "), ins AS ("
            f" INSERT INTO {table} ({columns})"
            f" SELECT {placeholders} FROM lock WHERE lock.held"
            f" ON CONFLICT ({unique}) DO NOTHING RETURNING id"
            ") "
            "SELECT true, ins.id, NULL, NULL, NULL, NULL, NULL, NULL, false, true"
            " FROM ins "
            "UNION ALL "
            f"SELECT false, {found}, k.expires_at <= %s, lock.held"
            f" FROM {table} k CROSS JOIN lock WHERE {where}"
        )
    else:
        claim = (
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608  identifiers only
            f" ON CONFLICT ({unique}) DO NOTHING RETURNING id"
        )
    find = (
        f"SELECT false, {found}, k.expires_at <= %s, true FROM {table} k WHERE {where}"  # noqa: S608  identifiers only
    )
    return _Statements(claim=claim, find=find)


def _insert_or_find(
    connection: BaseDatabaseWrapper,
    attempt: Attempt,
    *,
    now: datetime,
    expires_at: datetime,
) -> _Found | None:
    """Insert the key's row unless it exists; return what was found, or None.

    The only raw SQL of the app: the ORM cannot say INSERT ... ON CONFLICT DO
    NOTHING RETURNING. None means the key is in flight in another transaction
    (PostgreSQL only), or was committed after this statement's snapshot: ask
    again.

    On PostgreSQL one statement takes a transaction-scoped advisory lock on the
    key without waiting, inserts only when it got the lock, and reads the
    committed row otherwise. An in-flight duplicate holds the lock, so it is
    detected at once instead of blocking on the unique index until the first
    transaction ends. On SQLite writers are serialised by the database lock:
    no other transaction can be in flight, and an insert that does nothing on
    conflict followed by a read is enough.
    """
    adapt = connection.ops.adapt_datetimefield_value
    values = [
        attempt.principal,
        attempt.key,
        attempt.method,
        attempt.path,
        attempt.fingerprint,
        IdempotencyKey.State.IN_FLIGHT.value,
        b"",
        "",
        "",
        adapt(now),
        adapt(expires_at),
    ]
    find_params = [adapt(now), attempt.principal, attempt.key]
    sql = _statements(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql.claim, [_lock_id(attempt), *values, *find_params])
            row = cursor.fetchone()
        else:
            cursor.execute(sql.claim, values)
            inserted = cursor.fetchone()
            if inserted is not None:
                return _Found(claimed=True, pk=inserted[0])
            cursor.execute(sql.find, find_params)
            row = cursor.fetchone()
    if row is None:
        return None
    claimed, pk, fingerprint, state, status, body, content_type, location = row[:8]
    return _Found(
        claimed=bool(claimed),
        pk=pk,
        fingerprint=fingerprint or "",
        state=state or "",
        status_code=status,
        body=bytes(body or b""),
        content_type=content_type or "",
        location=location or "",
        expired=bool(row[8]),
        lock_held=bool(row[9]),
    )


def _reply(found: _Found) -> Reply:
    headers = {"Content-Type": found.content_type} if found.content_type else {}
    if found.location:
        headers["Location"] = found.location
    return Reply(status=found.status_code or 200, body=found.body, headers=headers)


def _take_over(
    found: _Found, attempt: Attempt, *, now: datetime, expires_at: datetime
) -> bool:
    """Reuse an expired or abandoned row for ``attempt``; return whether it was."""
    return bool(
        IdempotencyKey.objects.filter(pk=found.pk)
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


def claim(attempt: Attempt) -> Reply | None:
    """Claim the attempt's key in the current transaction, or return its stored reply.

    Return None when the caller now owns the key: it runs the request, then
    calls ``record()`` in the same transaction, or rolls the transaction back,
    which releases the key. Return the stored Reply when a request with the
    same fingerprint completed under the key. An expired key is claimed anew.

    Raise KeyMismatch when the key was used with another fingerprint, and
    KeyInUse when another transaction still holds the key after
    ``IN_FLIGHT_WAIT_SECONDS``. Raise TransactionManagementError outside
    ``transaction.atomic()``.
    """
    connection = connections[database_alias()]
    if not connection.in_atomic_block:
        raise TransactionManagementError("claim() must run inside transaction.atomic()")
    deadline = time.monotonic() + idempotency_settings.IN_FLIGHT_WAIT_SECONDS
    pause = 0.01
    while True:
        now = timezone.now()
        expires_at = now + timedelta(seconds=idempotency_settings.TTL_SECONDS)
        found = _insert_or_find(connection, attempt, now=now, expires_at=expires_at)
        if found is not None and found.claimed:
            return None
        if found is not None:
            usable = found.state == IdempotencyKey.State.COMPLETED and not found.expired
            if usable:
                if found.fingerprint != attempt.fingerprint:
                    raise KeyMismatch
                return _reply(found)
            # Expired, or left incomplete by a transaction that committed without
            # recording; with the advisory lock no one else is working on it.
            # A take-over that updates nothing met the purge: look again.
            if found.lock_held and _take_over(
                found, attempt, now=now, expires_at=expires_at
            ):
                return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KeyInUse(wait=idempotency_settings.RETRY_AFTER_SECONDS)
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.2)


def record(attempt: Attempt, reply: Reply) -> None:
    """Store ``reply`` under the key claimed by ``attempt`` in this transaction.

    Raise TransactionManagementError when the key was not claimed.
    """
    updated = (
        IdempotencyKey.objects.for_principal(attempt.principal)
        .filter(key=attempt.key, state=IdempotencyKey.State.IN_FLIGHT)
        .update(
            state=IdempotencyKey.State.COMPLETED,
            status_code=reply.status,
            response_body=reply.body,
            content_type=reply.headers.get("Content-Type", ""),
            location=reply.headers.get("Location", ""),
        )
    )
    if not updated:
        raise TransactionManagementError("record() without a claim() of the key")


def release(attempt: Attempt) -> None:
    """Give up the key claimed by ``attempt`` and keep the transaction's other work."""
    IdempotencyKey.objects.for_principal(attempt.principal).filter(
        key=attempt.key, state=IdempotencyKey.State.IN_FLIGHT
    ).delete()


def purge_expired(
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> int:
    """Delete expired keys, ``batch_size`` rows per transaction; return how many.

    With ``dry_run`` return how many would be deleted and delete nothing. Rows
    locked by a request that is taking over an expired key are skipped.
    """
    now = now or timezone.now()
    batch_size = batch_size or idempotency_settings.PURGE_BATCH_SIZE
    expired = IdempotencyKey.objects.expired(now).order_by()
    if dry_run:
        return expired.count()
    alias = database_alias()
    total = 0
    while True:
        with transaction.atomic(using=alias):
            batch: list[Any] = list(
                expired.select_for_update(skip_locked=True).values_list(
                    "pk", flat=True
                )[:batch_size]
            )
            if not batch:
                return total
            deleted, _ = IdempotencyKey.objects.filter(pk__in=batch).delete()
        total += deleted
