"""A fresh database on a Citus cluster for ``run.py --citus``."""

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

PROPAGATE = "SET citus.enable_create_database_propagation = on"


def _run(url: str, *statements: sql.Composable | str) -> None:
    """Run ``statements`` in one autocommit session on ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _on(url: str, database: str, node: tuple[str, int] | None = None) -> str:
    """Return ``url`` naming ``database`` (on ``node``, host and port) instead."""
    parts = urlsplit(url)
    if node is not None:
        parts = parts._replace(netloc=f"{parts.username}@{node[0]}:{node[1]}")
    return urlunsplit(parts._replace(path=f"/{database}"))


def create(url: str, name: str) -> str:
    """Create ``name`` from the coordinator's ``url`` on every node; return its URL.

    The coordinator propagates CREATE DATABASE to the workers; the extension
    is created on each node, then the coordinator registers the nodes.
    """
    drop(url, name)
    _run(url, PROPAGATE, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as conn:
        nodes = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE isactive ORDER BY groupid"
        ).fetchall()
    coordinator = _on(url, name)
    for node in nodes:
        _run(_on(url, name, node), "CREATE EXTENSION citus")
    host, port = urlsplit(url).hostname, urlsplit(url).port or 5432
    registered = [
        sql.SQL("SELECT citus_set_coordinator_host({}, {})").format(host, port)
    ]
    registered += [
        sql.SQL("SELECT citus_add_node({}, {})").format(node, node_port)
        for node, node_port in nodes
        if node_port != port
    ]
    _run(coordinator, *registered)
    return coordinator


def drop(url: str, name: str) -> None:
    """Drop ``name`` on every node, closing the connections Citus keeps open."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    _run(url, PROPAGATE, statement.format(sql.Identifier(name)))
