"""The text of the key layer's raw statements, built once per database alias.

Every identifier comes from the model's metadata, quoted by the connection;
every value is a parameter. The text depends on the vendor and, on
PostgreSQL, on whether the database is Citus; ``idempotency.sql`` runs it.
"""

from typing import NamedTuple

from django.db import connections
from django.db.utils import ConnectionDoesNotExist

from idempotency.models import IdempotencyKey

# Fields written by the claim, in the order of the raw INSERT's values.
CLAIM_FIELDS = (
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
COMPLETE_FIELDS = (
    "state",
    "status_code",
    "response_body",
    "content_type",
    "location",
)
# Fields read back when the key is already taken, in Found's order.
FOUND_FIELDS = (
    "id",
    "fingerprint",
    "state",
    "status_code",
    "response_body",
    "content_type",
    "location",
)

_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"


class Statements(NamedTuple):
    """The store's SQL for one database.

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
_STATEMENTS: dict[str, Statements] = {}


def statements(using: str) -> Statements:
    """Return the statements for the database ``using`` names, built on first use."""
    built = _STATEMENTS.get(using)
    if built is None:
        built = _STATEMENTS[using] = _Text(using).statements()
    return built


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
    statements(using)


def rows_span_shards(using: str) -> bool:
    """Return whether the key table is spread over Citus' shards on this database."""
    return statements(using).lock is not None


def _on_citus(using: str) -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


class _Text:
    """The pieces the statements share, for one database."""

    def __init__(self, using: str) -> None:
        self.connection = connections[using]
        self.postgresql = self.connection.vendor == "postgresql"
        self.citus = _on_citus(using)
        self.table = self.connection.ops.quote_name(IdempotencyKey._meta.db_table)
        self.columns = ", ".join(self.quote(f) for f in CLAIM_FIELDS)
        # created_at and expires_at are the database's time, never the host's:
        # every host's keys expire by one clock.
        if self.postgresql:
            self.now = "statement_timestamp()"
            later = f"{self.now} + make_interval(secs => %s)"
        else:
            self.now = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
            later = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', %s || ' seconds')"
        self.placeholders = ", ".join(
            ["%s"] * (len(CLAIM_FIELDS) - 2) + [self.now, later]
        )
        self.found = ", ".join(f"k.{self.quote(f)}" for f in FOUND_FIELDS)
        self.unique = (
            f"{self.quote('owner_id')}, {self.quote('scope')}, {self.quote('key')}"
        )
        self.where = (
            f"k.{self.quote('owner_id')} = %s AND k.{self.quote('scope')} = %s"
            f" AND k.{self.quote('key')} = %s"
        )
        # On PostgreSQL without Citus the lock is taken (without waiting)
        # before the insert is tried, and taken again, or found held by this
        # transaction, by the read.
        self.one_node = self.postgresql and not self.citus
        self.lock_held = "pg_try_advisory_xact_lock(%s)" if self.one_node else "true"

    def quote(self, field: str) -> str:
        return self.connection.ops.quote_name(
            IdempotencyKey._meta.get_field(field).column
        )

    def statements(self) -> Statements:
        return Statements(
            claim=self.claim(),
            find=self.find(),
            complete=self.complete(),
            lock=_LOCK if self.citus else None,
            claim_or_find=self.claim_or_find() if self.one_node else None,
        )

    def claim(self) -> str:
        if self.one_node:
            insert = f"SELECT {self.placeholders} WHERE {self.lock_held}"
        else:
            insert = f"VALUES ({self.placeholders})"
        return (
            f"INSERT INTO {self.table} ({self.columns}) {insert}"
            f" ON CONFLICT ({self.unique}) DO NOTHING RETURNING {self.quote('id')}"
        )

    def find(self) -> str:
        return (
            f"SELECT {self.found}, k.{self.quote('expires_at')} <= {self.now},"  # noqa: S608  identifiers only
            f" {self.lock_held} FROM {self.table} k WHERE {self.where}"
        )

    def complete(self) -> str:
        assignments = ", ".join(f"{self.quote(f)} = %s" for f in COMPLETE_FIELDS)
        return (
            f"UPDATE {self.table} SET {assignments}"  # noqa: S608  identifiers only
            f" WHERE {self.quote('owner_id')} = %s AND {self.quote('scope')} = %s"
            f" AND {self.quote('key')} = %s AND {self.quote('state')} = %s"
        )

    def claim_or_find(self) -> str:
        """One round trip for a fresh key and for a replay alike.

        The lock is taken once (a CTE with a volatile function runs once); the
        read runs only when nothing was inserted, on the statement's snapshot.
        """
        inserted = ", ".join(
            ["true", self.quote("id"), *["NULL"] * len(FOUND_FIELDS), "true"]
        )
        return (
            f"WITH lock AS MATERIALIZED (SELECT {self.lock_held} AS held),"  # noqa: S608  identifiers only
            f" claimed AS (INSERT INTO {self.table} ({self.columns})"
            f" SELECT {self.placeholders} FROM lock WHERE lock.held"
            f" ON CONFLICT ({self.unique}) DO NOTHING RETURNING {self.quote('id')})"
            f" SELECT {inserted} FROM claimed UNION ALL"
            f" SELECT false, {self.found}, k.{self.quote('expires_at')} <= {self.now},"
            f" lock.held FROM {self.table} k, lock"
            f" WHERE {self.where} AND NOT EXISTS (SELECT FROM claimed)"
        )
