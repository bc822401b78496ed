"""The claim statement: the idempotency app's only raw SQL.

The ORM cannot say ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, nor take an
advisory lock in the same statement; ``insert_or_find`` is the one function
that does.
"""

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from django.db.backends.base.base import BaseDatabaseWrapper

from idempotency.models import IdempotencyKey

if TYPE_CHECKING:
    from idempotency.store import Attempt

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


class Found(NamedTuple):
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


def _lock_id(attempt: "Attempt") -> int:
    """Return a signed 64-bit advisory lock id for the attempt's (principal, key)."""
    digest = hashlib.sha256(
        f"idempotency\0{attempt.principal}\0{attempt.key}".encode()
    ).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Statements(NamedTuple):
    """The claim's SQL for one database vendor; identifiers come from the model."""

    claim: str
    find: str


# Built once per database vendor: the text depends on nothing else.
_STATEMENTS: dict[str, _Statements] = {}


def _statements(connection: BaseDatabaseWrapper) -> _Statements:
    statements = _STATEMENTS.get(connection.vendor)
    if statements is None:
        statements = _STATEMENTS[connection.vendor] = _statements_build(connection)
    return statements


def _statements_build(connection: BaseDatabaseWrapper) -> _Statements:
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


def insert_or_find(
    connection: BaseDatabaseWrapper,
    attempt: "Attempt",
    *,
    now: datetime,
    expires_at: datetime,
) -> Found | None:
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
                return Found(claimed=True, pk=inserted[0])
            cursor.execute(sql.find, find_params)
            row = cursor.fetchone()
    if row is None:
        return None
    claimed, pk, fingerprint, state, status, body, content_type, location = row[:8]
    return Found(
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
