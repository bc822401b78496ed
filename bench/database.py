"""A PostgreSQL database of the benchmark's own: create, query and drop it."""

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

    def _admin(self) -> psycopg.Connection:
        """Connect to the server's ``postgres`` database, to create and drop ours."""
        parts = urlsplit(self.url)
        return psycopg.connect(
            urlunsplit(parts._replace(path="/postgres")), autocommit=True
        )

    def _drop(self, conn: psycopg.Connection) -> None:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.name)
            )
        )

    def create(self) -> None:
        """Drop a leftover database of the same name, then create it empty."""
        with self._admin() as conn:
            self._drop(conn)
            conn.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
            )
        self.created = True

    def drop(self) -> None:
        """Drop the database, closing whatever connections are still open to it."""
        if self.created:
            with self._admin() as conn:
                self._drop(conn)
            self.created = False

    def connect(self) -> psycopg.Connection:
        """Return an autocommit connection to the benchmark's database."""
        return psycopg.connect(self.url, autocommit=True)

    def scalar(self, query: str, params: tuple = ()) -> Any:
        """Run ``query`` and return the first column of its first row."""
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None
