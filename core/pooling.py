"""The statement and lock timeouts of each transaction, behind a transaction pooler.

PgBouncer in transaction mode hands each transaction a server connection of
its pool, so nothing set on a session survives to the next transaction, and
it refuses the libpq ``options`` that set the timeouts for a whole session.
With ``DATABASE_TRANSACTION_POOLING`` on, every transaction sets them itself,
with ``SET LOCAL``, before its first statement; a statement run in autocommit
mode gets a short transaction of its own for the same reason
(docs/scaling.md#pgbouncer-in-transaction-mode).
"""

import re
from typing import Any

from django.conf import settings
from django.db.backends.signals import connection_created
from psycopg.pq import TransactionStatus

# PostgreSQL refuses these inside a transaction block; they run as they are.
_OUTSIDE_A_TRANSACTION = re.compile(
    r"\s*(?:(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)\b|VACUUM\b|ALTER\s+SYSTEM\b"
    r"|(?:CREATE|DROP|REINDEX)\b[^;]*\bCONCURRENTLY\b)",
    re.IGNORECASE,
)


def set_local_timeouts_sql() -> str:
    """Return the statements that set both timeouts for the current transaction."""
    milliseconds = int(settings.DATABASE_STATEMENT_TIMEOUT * 1000)
    return (
        f"SET LOCAL statement_timeout = {milliseconds}; "
        f"SET LOCAL lock_timeout = {milliseconds}"
    )


def transaction_timeouts(
    execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """Run one statement with the timeouts set in its transaction (an execute wrapper).

    Inside a transaction that has run a statement already, the timeouts are
    set: the statement runs as it is. Before the first statement of a
    transaction, ``SET LOCAL`` goes first (psycopg opens the transaction).
    In autocommit mode the statement runs in a transaction of its own,
    committed at once, or rolled back when it fails.
    """
    db = context["connection"]
    raw = db.connection
    status = raw.info.transaction_status
    if status != TransactionStatus.IDLE:
        return execute(sql, params, many, context)
    if not raw.autocommit:
        with db.wrap_database_errors:
            raw.execute(set_local_timeouts_sql())
        return execute(sql, params, many, context)
    if _OUTSIDE_A_TRANSACTION.match(sql):
        return execute(sql, params, many, context)
    with db.wrap_database_errors:
        raw.execute("BEGIN; " + set_local_timeouts_sql())
    try:
        result = execute(sql, params, many, context)
    except BaseException:
        if raw.info.transaction_status in {
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
        }:
            with db.wrap_database_errors:
                raw.execute("ROLLBACK")
        raise
    with db.wrap_database_errors:
        raw.execute("COMMIT")
    return result


def install_transaction_timeouts(*, connection: Any, **kwargs: Any) -> None:
    """Add ``transaction_timeouts`` to a new PostgreSQL connection, once.

    A ``connection_created`` receiver: Django sends the signal each time it
    takes a connection from its pool, and the wrappers stay on the
    connection object between them.
    """
    if connection.vendor != "postgresql":
        return
    if transaction_timeouts not in connection.execute_wrappers:
        connection.execute_wrappers.append(transaction_timeouts)


def connect_if_pooling() -> None:
    """Set the timeouts per transaction when ``DATABASE_TRANSACTION_POOLING`` is on.

    Off, nothing is connected: a direct connection carries the timeouts in
    its start-up ``options`` and pays nothing here.
    """
    if getattr(settings, "DATABASE_TRANSACTION_POOLING", False):
        connection_created.connect(
            install_transaction_timeouts, dispatch_uid="core.pooling"
        )
