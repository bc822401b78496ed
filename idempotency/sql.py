"""The key layer's hot statements: the idempotency app's only raw SQL.

Two functions, both on every keyed request that does work:

- ``insert_or_find`` claims a key. The ORM cannot say ``INSERT ... ON CONFLICT
  DO NOTHING RETURNING``, nor take an advisory lock in the same statement.
- ``complete`` stores the reply under the claimed key. The ORM can say that
  ``UPDATE``, but building and compiling the queryset on every request cost
  more CPU than PostgreSQL spends running it, on the path whose cost the layer
  promises to keep small.

Their text is built in ``idempotency.statements``; every value is a
parameter. The statements run on Django's ordinary cursor,
so whatever the connection's options say (``server_side_binding``,
``prepare_threshold``) applies to them as to any other query.
"""

import hashlib

from django.db import connections

from idempotency.models import IdempotencyKey
from idempotency.records import Attempt, Found, Reply
from idempotency.statements import statements


def _lock_id(attempt: Attempt) -> int:
    """Return a signed 64-bit advisory lock id for the attempt's (owner, scope, key)."""
    digest = hashlib.sha256(
        f"idempotency\0{attempt.owner}\0{attempt.scope}\0{attempt.key}".encode()
    ).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def insert_or_find(using: str, attempt: Attempt, *, ttl_seconds: int) -> Found | None:
    """Insert the key's row unless it exists; return what was found, or None.

    On PostgreSQL a fresh key and a key already there cost one statement
    each: ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` and the read of
    the row when nothing was inserted. Elsewhere the read is a second one.
    None means the key is in flight in another transaction (PostgreSQL only),
    or was committed after the read's snapshot: ask again.

    On PostgreSQL the insert takes a transaction-scoped advisory lock on the
    key without waiting, and inserts only when it got it: an in-flight
    duplicate holds the lock, so it is detected at once instead of blocking on
    the unique index until the first transaction ends. The read tells whether
    this transaction holds the lock, which allows it to take over an expired
    or abandoned row. The row expires ``ttl_seconds`` after the database's
    now, and is expired once the database's now reaches that. On Citus the
    lock is a statement of its own on the coordinator, before the insert,
    which is tried only when the lock was free. On SQLite writers are
    serialised by the database lock: no other transaction can be in flight.
    """
    connection = connections[using]
    values = _claim_values(attempt, ttl_seconds=ttl_seconds)
    find_params = []
    sql = statements(using)
    locked = True
    if sql.claim_or_find is not None:
        params = [_lock_id(attempt), *values, attempt.owner, attempt.scope, attempt.key]
        with connection.cursor() as cursor:
            cursor.execute(sql.claim_or_find, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if row[0]:
            return Found(claimed=True, pk=row[1])
        return _found(row[1:], locked=True)
    with connection.cursor() as cursor:
        if sql.lock is not None:
            cursor.execute(sql.lock, [_lock_id(attempt)])
            locked = bool(cursor.fetchone()[0])
        elif connection.vendor == "postgresql":
            lock_id = _lock_id(attempt)
            values.append(lock_id)
            find_params.append(lock_id)
        find_params += [attempt.owner, attempt.scope, attempt.key]
        if locked:
            cursor.execute(sql.claim, values)
            inserted = cursor.fetchone()
            if inserted is not None:
                return Found(claimed=True, pk=inserted[0])
        cursor.execute(sql.find, find_params)
        row = cursor.fetchone()
    if row is None:
        return None
    return _found(row, locked=locked)


def _claim_values(attempt: Attempt, *, ttl_seconds: int) -> list:
    """Return the claim's values, in ``CLAIM_FIELDS``' order, then the lifetime."""
    return [
        attempt.owner,
        attempt.scope,
        attempt.key,
        attempt.method,
        attempt.path,
        attempt.fingerprint,
        IdempotencyKey.State.IN_FLIGHT.value,
        b"",
        "",
        "",
        ttl_seconds,
    ]


def _found(row: tuple, *, locked: bool) -> Found:
    """Return the key's row read by the find statement as a ``Found``."""
    pk, fingerprint, state, status, body, content_type, location, expired, held = row
    return Found(
        claimed=False,
        pk=pk,
        fingerprint=fingerprint,
        state=state,
        status_code=status,
        body=bytes(body),
        content_type=content_type,
        location=location,
        expired=bool(expired),
        lock_held=bool(held) and locked,
    )


def complete(using: str, attempt: Attempt, reply: Reply) -> bool:
    """Store ``reply`` under the attempt's in-flight key; return whether it was there."""
    params = [
        IdempotencyKey.State.COMPLETED.value,
        reply.status,
        reply.body,
        reply.headers.get("Content-Type", ""),
        reply.headers.get("Location", ""),
        attempt.owner,
        attempt.scope,
        attempt.key,
        IdempotencyKey.State.IN_FLIGHT.value,
    ]
    with connections[using].cursor() as cursor:
        cursor.execute(statements(using).complete, params)
        return cursor.rowcount == 1
