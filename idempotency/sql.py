"""The key layer's hot statements: the idempotency app's only raw SQL.

Two functions, both on every keyed request that does work:

- ``insert_or_find`` claims a key. The ORM cannot say ``INSERT ... ON CONFLICT
  DO NOTHING RETURNING``, nor take an advisory lock in the same statement.
- ``complete`` stores the reply under the claimed key. The ORM can say that
  ``UPDATE``, but building and compiling the queryset on every request cost
  more CPU than PostgreSQL spends running it, on the path whose cost the layer
  promises to keep small.

Every identifier comes from the model's metadata, quoted by the connection;
every value is a parameter. The statements run on Django's ordinary cursor,
so whatever the connection's options say (``server_side_binding``,
``prepare_threshold``) applies to them as to any other query.
"""

import hashlib
from typing import NamedTuple

from django.db import connections
from django.db.utils import ConnectionDoesNotExist

from idempotency.models import IdempotencyKey
from idempotency.records import Attempt, Found, Reply


def _column(name: str) -> str:
    return IdempotencyKey._meta.get_field(name).column


# Fields written by the claim, in the order of the raw INSERT's values.
_CLAIM_FIELDS = (
    "owner_id",
    "scope",
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
# Fields written when the reply is stored, in the order of the UPDATE's values.
_COMPLETE_FIELDS = (
    "state",
    "status_code",
    "response_body",
    "content_type",
    "location",
)
# Fields read back when the key is already taken, in Found's order.
_FOUND_FIELDS = (
    "id",
    "fingerprint",
    "state",
    "status_code",
    "response_body",
    "content_type",
    "location",
)


def _lock_id(attempt: Attempt) -> int:
    """Return a signed 64-bit advisory lock id for the attempt's (owner, scope, key)."""
    digest = hashlib.sha256(
        f"idempotency\0{attempt.owner}\0{attempt.scope}\0{attempt.key}".encode()
    ).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Statements(NamedTuple):
    """The store's SQL for one database; identifiers come from the model.

    ``lock`` is set on Citus only: there the key's lock is taken on the
    coordinator by a statement of its own, and the claim and the read are
    plain statements on the owner's shard (a lock inside them would be taken
    on the coordinator by one and on a worker by the other).
    """

    claim: str
    find: str
    complete: str
    lock: str | None = None
    # PostgreSQL without Citus: the lock, the claim and the read in one.
    claim_or_find: str | None = None


# Built once per database alias: the text depends on the vendor and on Citus.
_STATEMENTS: dict[str, _Statements] = {}

_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"


def _statements(using: str) -> _Statements:
    statements = _STATEMENTS.get(using)
    if statements is None:
        statements = _STATEMENTS[using] = _statements_build(using)
    return statements


def _on_citus(using: str) -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


def statements_prepare(using: str) -> None:
    """Build the statements for the database ``using`` names, if not yet built.

    On PostgreSQL that asks the database, once per process, whether it is
    Citus. Called when a process opens its first connection (the project does
    it on ``connection_created``), no request pays for the question; otherwise
    the first keyed request does. An alias that is not in ``DATABASES`` (the
    connection Django opens to create a test database) is left alone.
    """
    try:
        connections[using]
    except ConnectionDoesNotExist:
        return
    _statements(using)


def rows_span_shards(using: str) -> bool:
    """Return whether the key table is spread over Citus' shards on this database."""
    return _statements(using).lock is not None


def _statements_build(using: str) -> _Statements:
    connection = connections[using]
    citus = _on_citus(using)

    def quote(field: str) -> str:
        return connection.ops.quote_name(_column(field))

    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    columns = ", ".join(quote(f) for f in _CLAIM_FIELDS)
    # created_at and expires_at are the database's time, never the host's:
    # every host's keys expire by one clock.
    if connection.vendor == "postgresql":
        now = "statement_timestamp()"
        later = f"{now} + make_interval(secs => %s)"
    else:
        now = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
        later = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', %s || ' seconds')"
    placeholders = ", ".join(["%s"] * (len(_CLAIM_FIELDS) - 2) + [now, later])
    found = ", ".join(f"k.{quote(f)}" for f in _FOUND_FIELDS)
    unique = f"{quote('owner_id')}, {quote('scope')}, {quote('key')}"
    where = (
        f"k.{quote('owner_id')} = %s AND k.{quote('scope')} = %s"
        f" AND k.{quote('key')} = %s"
    )
    if connection.vendor == "postgresql" and not citus:
        # The lock is taken (without waiting) before the insert is tried, and
        # taken again, or found held by this transaction, by the read.
        lock_held = "pg_try_advisory_xact_lock(%s)"
        insert = f"SELECT {placeholders} WHERE {lock_held}"
    else:
        lock_held = "true"
        insert = f"VALUES ({placeholders})"
    claim = (
        f"INSERT INTO {table} ({columns}) {insert}"
        f" ON CONFLICT ({unique}) DO NOTHING RETURNING {quote('id')}"
    )
    find = (
        f"SELECT {found}, k.{quote('expires_at')} <= {now}, {lock_held}"  # noqa: S608  identifiers only
        f" FROM {table} k WHERE {where}"
    )
    assignments = ", ".join(f"{quote(f)} = %s" for f in _COMPLETE_FIELDS)
    complete = (
        f"UPDATE {table} SET {assignments}"  # noqa: S608  identifiers only
        f" WHERE {quote('owner_id')} = %s AND {quote('scope')} = %s"
        f" AND {quote('key')} = %s AND {quote('state')} = %s"
    )
    claim_or_find = None
    if connection.vendor == "postgresql" and not citus:
        # One round trip for a fresh key and for a replay alike. The lock is
        # taken once (a CTE with a volatile function runs once); the read
        # runs only when nothing was inserted, on the statement's snapshot.
        inserted = ", ".join(
            ["true", quote("id"), *["NULL"] * len(_FOUND_FIELDS), "true"]
        )
        claim_or_find = (
            f"WITH lock AS MATERIALIZED (SELECT {lock_held} AS held),"  # noqa: S608  identifiers only
            f" claimed AS (INSERT INTO {table} ({columns})"
            f" SELECT {placeholders} FROM lock WHERE lock.held"
            f" ON CONFLICT ({unique}) DO NOTHING RETURNING {quote('id')})"
            f" SELECT {inserted} FROM claimed UNION ALL"
            f" SELECT false, {found}, k.{quote('expires_at')} <= {now}, lock.held"
            f" FROM {table} k, lock WHERE {where} AND NOT EXISTS (SELECT FROM claimed)"
        )
    return _Statements(
        claim=claim,
        find=find,
        complete=complete,
        lock=_LOCK if citus else None,
        claim_or_find=claim_or_find,
    )


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
    sql = _statements(using)
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
    """Return the claim's values, in ``_CLAIM_FIELDS``' order, then the lifetime."""
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
        cursor.execute(_statements(using).complete, params)
        return cursor.rowcount == 1
