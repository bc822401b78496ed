"""The key layer's hot statements: the idempotency app's only raw SQL.

Two functions, both on every keyed request that does work:

- ``insert_or_find`` claims a key. The ORM cannot say ``INSERT ... ON CONFLICT
  DO NOTHING RETURNING``, nor take an advisory lock in the same statement.
- ``complete`` stores the reply under the claimed key. The ORM can say that
  ``UPDATE``, but building and compiling the queryset on every request cost
  more CPU than PostgreSQL spends running it (measured in docs/benchmarks.md),
  on the path whose cost the layer promises to keep small.

Every identifier comes from the model's metadata, quoted by the connection;
every value is a parameter. On PostgreSQL the parameters are bound by the
server, so psycopg can keep the claim, the read of a taken key and the record
prepared on the connection (``_cursor``).
"""

import hashlib
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

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
# Columns written when the reply is stored, in the order of the UPDATE's values.
_COMPLETE_COLUMNS = (
    "state",
    "status_code",
    "response_body",
    "content_type",
    "location",
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
    """The store's SQL for one database vendor; identifiers come from the model."""

    claim: str
    find: str
    complete: str


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
        f"SELECT {found}, k.{quote('expires_at')} <= %s, {lock_held}"  # noqa: S608  identifiers only
        f" FROM {table} k WHERE {where}"
    )
    assignments = ", ".join(f"{quote(c)} = %s" for c in _COMPLETE_COLUMNS)
    complete = (
        f"UPDATE {table} SET {assignments}"  # noqa: S608  identifiers only
        f" WHERE {quote('principal')} = %s AND {quote('key')} = %s"
        f" AND {quote('state')} = %s"
    )
    return _Statements(claim=claim, find=find, complete=complete)


@cache
def _server_binding_cursor_class() -> Any:
    """Return Django's psycopg 3 cursor that binds parameters on the server, or None."""
    # Imported here: the module needs a PostgreSQL driver, and defines this
    # class only with psycopg 3.
    try:
        from django.db.backends.postgresql.base import ServerBindingCursor
    except ImportError:
        return None
    return ServerBindingCursor


def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """Return a Django cursor for the layer's statements.

    On PostgreSQL with psycopg 3 the cursor sends the parameters apart from
    the statement's text, as Django does with ``OPTIONS["server_side_binding"]``:
    the text is the same on every request, so psycopg prepares it on the
    connection once it has run a few times (when ``OPTIONS["prepare_threshold"]``
    is set) and PostgreSQL stops parsing and planning it on every keyed
    request. Django's default, binding in the client, stays for every other
    query, and for these too while Django logs queries (``DEBUG``, or a test
    capturing them): psycopg does not report the text of a prepared statement
    it ran, and the log would show None. The cursor is wrapped as Django wraps
    its own: execute wrappers and the translation of database errors apply.
    """
    cursor_class = (
        _server_binding_cursor_class() if connection.vendor == "postgresql" else None
    )
    if cursor_class is None or connection.queries_logged:
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    return connection.make_cursor(cursor_class(connection.connection))


def insert_or_find(
    connection: BaseDatabaseWrapper,
    attempt: "Attempt",
    *,
    now: datetime,
    expires_at: datetime,
) -> Found | None:
    """Insert the key's row unless it exists; return what was found, or None.

    A fresh key costs one statement, ``INSERT ... ON CONFLICT DO NOTHING
    RETURNING id``; a key already there costs a second one that reads its row.
    None means the key is in flight in another transaction (PostgreSQL only),
    or was committed after the read's snapshot: ask again.

    On PostgreSQL the insert takes a transaction-scoped advisory lock on the
    key without waiting, and inserts only when it got it: an in-flight
    duplicate holds the lock, so it is detected at once instead of blocking on
    the unique index until the first transaction ends. The read tells whether
    this transaction holds the lock, which allows it to take over an expired
    or abandoned row. On SQLite writers are serialised by the database lock:
    no other transaction can be in flight.
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
    find_params = [adapt(now)]
    if connection.vendor == "postgresql":
        lock_id = _lock_id(attempt)
        values.append(lock_id)
        find_params.append(lock_id)
    find_params += [attempt.principal, attempt.key]
    sql = _statements(connection)
    with _cursor(connection) as cursor:
        cursor.execute(sql.claim, values)
        inserted = cursor.fetchone()
        if inserted is not None:
            return Found(claimed=True, pk=inserted[0])
        cursor.execute(sql.find, find_params)
        row = cursor.fetchone()
    if row is None:
        return None
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
        lock_held=bool(held),
    )


def complete(
    connection: BaseDatabaseWrapper,
    attempt: "Attempt",
    *,
    status: int,
    body: bytes,
    content_type: str,
    location: str,
) -> bool:
    """Store a reply under the attempt's in-flight key; return whether it was there."""
    params = [
        IdempotencyKey.State.COMPLETED.value,
        status,
        body,
        content_type,
        location,
        attempt.principal,
        attempt.key,
        IdempotencyKey.State.IN_FLIGHT.value,
    ]
    with _cursor(connection) as cursor:
        cursor.execute(_statements(connection).complete, params)
        return cursor.rowcount == 1
