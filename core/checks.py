"""System checks of the connections the project's processes may open."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

# What this role may open in this database: the server's slots less those kept
# for superusers (and, from PostgreSQL 16, for pg_use_reserved_connections),
# and the role's and the database's own limits (-1: none).
LIMITS_SQL = """
SELECT current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true), '0')::int,
       r.rolconnlimit, d.datconnlimit, r.rolsuper
FROM pg_roles r, pg_database d
WHERE r.rolname = current_user AND d.datname = current_database()
"""


def connections_allowed(alias: str = DEFAULT_DB_ALIAS) -> int | None:
    """Return how many connections the database lets this role open, or None.

    None when the database is not PostgreSQL or does not answer.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(LIMITS_SQL)
            maximum, reserved, role_limit, database_limit, superuser = cursor.fetchone()
    except OperationalError:
        return None
    if superuser:
        return maximum
    limits = [maximum - reserved] + [
        limit for limit in (role_limit, database_limit) if limit >= 0
    ]
    return min(limits)


@register(Tags.database)
def check_connection_limit(
    databases: list[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Warn when DATABASE_MAX_PROCESSES pools could open more than the database allows.

    A database check: it runs under ``migrate`` and ``check --database
    default``. Behind a transaction pooler the limit that counts is the
    pooler's client limit, which the database cannot tell: no check then.
    """
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    if getattr(settings, "DATABASE_TRANSACTION_POOLING", False):
        return []
    allowed = connections_allowed()
    if allowed is None:
        return []
    processes = settings.DATABASE_MAX_PROCESSES
    pool = settings.DATABASE_POOL_SIZE
    if processes * pool <= allowed:
        return []
    return [
        Warning(
            f"{processes} processes (DATABASE_MAX_PROCESSES) with pools of "
            f"{pool} connections (DATABASE_POOL_SIZE) may open {processes * pool} "
            f"connections; the database allows this role {allowed}.",
            hint="Lower DATABASE_POOL_SIZE, raise max_connections, or put "
            "PgBouncer in front (docs/scaling.md).",
            id="core.W001",
        )
    ]
