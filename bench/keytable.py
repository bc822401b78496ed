"""The benchmark's own database, and its key table at scale: fill, swap, empty."""

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


@dataclass
class Database:
    """The database at ``url``, created afresh by the benchmark and dropped after."""

    url: str
    created: bool = False

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    def _admin(self, statement: str) -> None:
        """Run ``statement`` on the server's ``postgres`` database, {} our name."""
        admin = urlunsplit(urlsplit(self.url)._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def create(self) -> None:
        """Drop a leftover database of the same name, then create it empty."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._admin("CREATE DATABASE {}")
        self.created = True

    def drop(self) -> None:
        """Drop the database, closing whatever connections are still open to it."""
        if self.created:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            self.created = False

    def connect(self) -> psycopg.Connection:
        """Return an autocommit connection to the benchmark's database."""
        return psycopg.connect(self.url, autocommit=True)

    def scalar(self, query: str, params: tuple = ()) -> Any:
        """Run ``query`` and return the first column of its first row."""
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None


TABLE = "idempotency_idempotencykey"

# One INSERT ... SELECT generate_series per kind of row. Keys belong to 10,000
# owners (every 50th one anonymous, owner 0), bodies look like a stored order reply,
# and the fake user ids start far above the real ones so no bench user shares them.
FILL = f"""
INSERT INTO {TABLE}
    (owner_id, scope, key, method, path, fingerprint, state, status_code,
     response_body, content_type, location, created_at, expires_at)
SELECT
    CASE WHEN g %% 50 = 0 THEN 0 ELSE 1000000000 + g %% 10000 END,
    '',
    %(prefix)s || md5(g::text),
    'POST',
    '/api/orders/',
    encode(sha256(convert_to(%(prefix)s || g, 'UTF8')), 'hex'),
    'completed',
    201,
    convert_to(
        '{{"id":' || g || ',"client_id":"' || md5(g::text) || '","product_id":7,'
        || '"quantity":2,"status":"pending","created_at":"2026-01-01T00:00:00Z",'
        || '"events":[{{"status":"pending","at":"2026-01-01T00:00:00Z"}}]}}',
        'UTF8'),
    'application/json',
    '/api/orders/' || g || '/',
    now() - %(age)s::interval - (g %% 3600) * interval '1 second',
    now() - %(age)s::interval - (g %% 3600) * interval '1 second' + interval '1 day'
FROM generate_series(1, %(rows)s) AS g
"""


@dataclass(frozen=True)
class Fill:
    """The filled key table: its rows, how long the fill took, its size."""

    expired: int
    live: int
    seconds: float
    size: str


def fill(db: Database, *, expired: int, live: int) -> Fill:
    """Add ``expired`` expired and ``live`` live keys, then VACUUM and CHECKPOINT."""
    started = time.monotonic()
    with db.connect() as conn:
        for rows, prefix, age in (
            (expired, "expired-", "2 days"),
            (live, "live-", "1 hour"),
        ):
            conn.execute(FILL, {"rows": rows, "prefix": prefix, "age": age})
        # What autovacuum would do soon after a bulk load: statistics and hint bits.
        conn.execute(f"VACUUM (ANALYZE) {TABLE}")
        # Write the load's dirty pages now, as the checkpoints that follow any
        # real table's growth have, instead of during the measurements.
        conn.execute("CHECKPOINT")
    size = db.scalar(
        "SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))", (TABLE,)
    )
    return Fill(expired, live, round(time.monotonic() - started, 1), size)


def expired_count(db: Database) -> int:
    """Return how many keys have expired."""
    return int(db.scalar(f"SELECT count(*) FROM {TABLE} WHERE expires_at <= now()"))


def empty(db: Database) -> None:
    """Remove every key (the table is idle when this is called)."""
    with db.connect() as conn:
        conn.execute(f"TRUNCATE {TABLE}")


class Twin:
    """An empty copy of the key table that can trade places with the full one.

    Renaming two tables in one transaction takes a moment, so keyed creates on
    the empty and on the full table can alternate within one round, the way
    every other ratio is taken. The copy has the same columns, defaults,
    constraints and indexes (``LIKE ... INCLUDING ALL``); ``ON CONFLICT
    (owner_id, scope, key)`` finds its unique index by its columns, not its name.
    """

    SPARE = f"{TABLE}_bench_spare"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.in_place = "full"
        with db.connect() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self.SPARE}")
            conn.execute(f"CREATE TABLE {self.SPARE} (LIKE {TABLE} INCLUDING ALL)")
            conn.execute(f"ANALYZE {self.SPARE}")

    def use(self, state: str) -> None:
        """Put the ``"full"`` or the ``"empty"`` table in place (server idle)."""
        if state == self.in_place:
            return
        with self.db.connect() as conn, conn.transaction():
            conn.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_bench_swap")
            conn.execute(f"ALTER TABLE {self.SPARE} RENAME TO {TABLE}")
            conn.execute(f"ALTER TABLE {TABLE}_bench_swap RENAME TO {self.SPARE}")
        self.in_place = state

    def drop(self) -> None:
        """Put the full table back and drop the empty one."""
        self.use("full")
        with self.db.connect() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self.SPARE}")
