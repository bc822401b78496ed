"""Which database errors mean "unavailable for a moment" rather than a bug."""

from django.db import InterfaceError, OperationalError

# SQLSTATE classes and codes of PostgreSQL that a retry can cure: 08 connection
# exception, 53 insufficient resources (too many connections), 57 operator
# intervention (statement timeout, shutdown, starting up), 55P03 lock timeout,
# 40001/40P01 serialization failure and deadlock.
_TRANSIENT_CLASSES = {"08", "53", "57"}
_TRANSIENT_STATES = {"55P03", "40001", "40P01"}
# SQLite's primary result codes: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CANTOPEN.
_SQLITE_TRANSIENT_CODES = {5, 6, 14}


def database_unavailable(exc: BaseException | None) -> bool:
    """Return whether ``exc`` says the database cannot serve the request right now.

    True for a lost or refused connection, a pool that timed out waiting for
    one, a statement or lock wait cut by the timeout, and SQLite's lock
    timeout. False for every other error, an OperationalError about a missing
    table included: those are bugs and stay 500s.
    """
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in _SQLITE_TRANSIENT_CODES
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        # psycopg raises these without a SQLSTATE: a connection that failed or
        # was closed, and the pool's timeout.
        return True
    return sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_STATES
