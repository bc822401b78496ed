"""A PostgreSQL database of the benchmark's own: create, query and drop it."""

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


@dataclass
class Database:
    """A PostgreSQL database of the benchmark's own, created afresh and dropped after."""

    server_url: str
    name: str
    created: bool = False

    @property
    def url(self) -> str:
        return f"{self.server_url.rstrip('/')}/{self.name}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(
            f"{self.server_url.rstrip('/')}/postgres", autocommit=True
        )

    def create(self) -> None:
        """Drop a leftover database of the same name, then create it empty."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.name)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
            )
        self.created = True

    def drop(self) -> None:
        """Drop the database, closing whatever connections are still open to it."""
        if not self.created:
            return
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.name)
                )
            )
        self.created = False

    def connect(self) -> psycopg.Connection:
        """Return an autocommit connection to the benchmark's database."""
        return psycopg.connect(self.url, autocommit=True)

    def scalar(self, query: str, params: tuple = ()) -> Any:
        """Run ``query`` and return the first column of its first row."""
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    def backend_pids(self) -> set[int]:
        """Return the pids of this database's backends and of the server's own."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() OR datname IS NULL"
            ).fetchall()
        return {row[0] for row in rows}

    def server_version(self) -> str:
        return str(self.scalar("SHOW server_version"))
