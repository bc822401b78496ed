"""The SQL statements a piece of work runs, apart from transaction control.

Transaction control (BEGIN, COMMIT, savepoints) is left out: a keyed and an
unkeyed request, or a deduped and a plain task, share it.
"""

from django.db import connection
from django.test.utils import CaptureQueriesContext

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def statements(queries):
    """Return the SQL of ``queries`` (captured queries), without transaction control."""
    return [q["sql"] for q in queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def statements_of(call):
    """Run ``call()``; return the statements it ran, without transaction control."""
    with CaptureQueriesContext(connection) as queries:
        call()
    return statements(queries.captured_queries)
