"""The connection options of the default database, derived from the DATABASE_* settings."""

from idem_project.startup import EnvironmentValueError


def postgresql_options(
    *,
    statement_timeout: float,
    pool_size: int,
    transaction_pooling: bool,
    server_side_binding: bool,
    prepared_statements: bool,
) -> dict:
    """Return the keys that PostgreSQL adds to the default database's settings.

    A statement, a wait for a lock and a wait for a pooled connection each end
    within ``statement_timeout`` seconds, so the request answers 503 in time.
    """
    if transaction_pooling and server_side_binding:
        raise EnvironmentValueError(
            "DATABASE_SERVER_SIDE_BINDING: expected 0 with "
            "DATABASE_TRANSACTION_POOLING=1, got '1'"
        )
    timeout_ms = int(statement_timeout * 1000)
    options = {
        # One pool per process. A sync worker serves one request at a time and
        # holds one connection; an ASGI worker up to max_size (docs/operations.md).
        # min_size 0: a pool that starts filling itself while the first request
        # asks for a connection opens two. CONN_MAX_AGE must stay 0 with a pool.
        # The pool timeout is shorter than the statement timeout: a request that
        # cannot get a connection answers 503 within the statement timeout too.
        "pool": {
            "min_size": 0,
            "max_size": pool_size,
            "timeout": statement_timeout / 2,
        },
        "connect_timeout": max(2, int(statement_timeout / 2)),
        "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
        # With parameters bound on the server (Django's documented option, on
        # unless behind a transaction pooler), psycopg prepares a statement once
        # a connection has run it 5 times, so PostgreSQL stops parsing and
        # planning the key layer's statements on every request. Turn preparing
        # off behind a pooler that cannot keep prepared statements (PgBouncer
        # before 1.21 in transaction mode).
        "server_side_binding": server_side_binding,
        "prepare_threshold": 5 if prepared_statements else None,
    }
    # The pool hands out only connections that answer: a restart of PostgreSQL
    # costs no request an error (psycopg_pool's check_connection).
    keys = {"CONN_HEALTH_CHECKS": True, "OPTIONS": options}
    if transaction_pooling:
        # PgBouncer refuses the start-up options; nothing is prepared, and no
        # cursor outlives its transaction on a server connection.
        del options["options"]
        options["prepare_threshold"] = None
        keys["DISABLE_SERVER_SIDE_CURSORS"] = True
    return keys


def sqlite_options(*, statement_timeout: float) -> dict:
    """Return the keys that SQLite adds to the default database's settings.

    Writers queue on SQLite's lock instead of failing with "database is
    locked", for as long as a statement may take on PostgreSQL.
    """
    return {"OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": statement_timeout}}


def connection_settings(
    engine: str,
    *,
    statement_timeout: float,
    pool_size: int,
    transaction_pooling: bool,
    server_side_binding: bool,
    prepared_statements: bool,
    test_name: str,
) -> dict:
    """Return the keys that the default database's ``engine`` adds to its settings."""
    if engine != "django.db.backends.postgresql":
        return sqlite_options(statement_timeout=statement_timeout)
    return postgresql_options(
        statement_timeout=statement_timeout,
        pool_size=pool_size,
        transaction_pooling=transaction_pooling,
        server_side_binding=server_side_binding,
        prepared_statements=prepared_statements,
    ) | {"TEST": {"NAME": test_name}}
