"""Count the SQL statements of each request and EXPLAIN the key table's statements.

Run by bench/run.py against the benchmark's database once the key table is
full, with the server's environment (``DATABASE_URL`` and friends) and the
token of a bench user. The requests go through Django's test client, so they
take the same path as under gunicorn (middleware, DRF, the idempotency layer)
while every statement is captured. Prints one JSON object.
"""

import argparse
import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

INDEX_PATTERNS = (
    re.compile(
        r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)"
    ),
    re.compile(r"Conflict Arbiter Indexes: (.+)"),
)
PLACEHOLDERS = re.compile(r"(%s, ){4,}")
SEQ_SCAN = re.compile(r"Seq Scan on (\S+)")
# Transaction control, which Django logs beside the queries.
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK)\s*$", re.I)
SAVEPOINT = re.compile(
    r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I
)


class Captured(Exception):
    """Stops the purge once its first DELETE was seen; everything is rolled back."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--token", required=True)
    options = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")
    import django

    django.setup()
    from django.db import connection
    from rest_framework.test import APIClient

    from idempotency.models import IdempotencyKey

    table = IdempotencyKey._meta.db_table
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {options.token}")

    counts, captured = statement_counts(client, table)
    keyed = captured["create, keyed"]
    replay = captured["replay of a stored key"]
    explains: dict[str, Any] = {}
    key_row = keyed["key"]

    claim_sql = first(keyed["table_statements"], "INSERT INTO")
    if claim_sql:
        # The first-time path: the row is deleted (and restored by the rollback).
        explains["claim (first time)"] = explain(
            connection,
            claim_sql,
            before=lambda: IdempotencyKey.objects.filter(key=key_row).delete(),
        )
    conflict_sql = first(replay["table_statements"], "INSERT INTO")
    if conflict_sql:
        explains["claim (key already there)"] = explain(connection, conflict_sql)
    lookup_sql = first(replay["table_statements"], "SELECT ")
    if lookup_sql:
        explains["lookup (replay)"] = explain(connection, lookup_sql)
    record_sql = first(keyed["table_statements"], "UPDATE ")
    if record_sql:
        explains["record"] = explain(connection, record_sql)
    for sql, params in purge_statements(connection, table):
        verb = sql.lstrip().split(None, 1)[0].upper()
        name = "purge batch" if verb == "DELETE" else "purge: first and last expired id"
        explains[name] = explain(connection, sql, params=params)

    print(
        json.dumps(
            {"counts": counts, "statements": captured, "explains": explains}, indent=2
        )
    )


def first(statements: list[str], verb: str) -> str | None:
    """Return the first statement that starts with ``verb``."""
    return next((s for s in statements if s.lstrip().upper().startswith(verb)), None)


def statement_counts(client: Any, table: str) -> tuple[dict, dict]:
    """Send each kind of request once and capture its statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    base = uuid.uuid4().hex
    plain = {"client_id": f"inspect-{base}-plain", "product_id": 7, "quantity": 2}
    keyed = {"client_id": f"inspect-{base}-keyed", "product_id": 7, "quantity": 2}
    key = f"inspect-{base}"
    order_id: list[int] = []

    def read() -> Any:
        return client.get(f"/api/orders/{order_id[0]}/")

    requests = [
        ("create, no key", lambda: client.post("/api/orders/", plain, format="json")),
        (
            "create, keyed",
            lambda: client.post(
                "/api/orders/", keyed, format="json", HTTP_IDEMPOTENCY_KEY=key
            ),
        ),
        (
            "replay of a stored key",
            lambda: client.post(
                "/api/orders/", keyed, format="json", HTTP_IDEMPOTENCY_KEY=key
            ),
        ),
        (
            "retry by client_id",
            lambda: client.post("/api/orders/", plain, format="json"),
        ),
        ("read one order", read),
    ]
    counts: dict[str, Any] = {}
    captured: dict[str, Any] = {}
    for name, send in requests:
        with CaptureQueriesContext(connection) as queries:
            response = send()
        if name == "create, no key":
            order_id.append(response.json()["id"])
        statements = [
            query["sql"]
            for query in queries.captured_queries
            if not CONTROL.match(query["sql"])
        ]
        counts[name] = {
            "status": response.status_code,
            "replayed": response.headers.get("Idempotent-Replayed") == "true",
            "statements": len(statements),
            "without_savepoints": sum(1 for s in statements if not SAVEPOINT.match(s)),
            "key_table": sum(1 for s in statements if table in s),
        }
        captured[name] = {
            "key": key,
            "statements": statements,
            "table_statements": [s for s in statements if table in s],
        }
    return counts, captured


def purge_statements(connection: Any, table: str) -> list[tuple[str, Any]]:
    """Return the statements of the purge's first batch, without deleting anything."""
    from django.db import transaction

    from idempotency.store import purge_expired

    seen: list[tuple[str, Any]] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if table in sql:
            seen.append((sql, params))
            if sql.lstrip().upper().startswith("DELETE"):
                raise Captured
        return execute(sql, params, many, context)

    try:
        with transaction.atomic(), connection.execute_wrapper(spy):
            purge_expired()
    except Captured:
        pass
    return seen


def explain(
    connection: Any, sql: str, *, params: Any = None, before: Any = None
) -> dict[str, Any]:
    """EXPLAIN ANALYZE ``sql`` in a transaction that is rolled back."""
    from django.db import transaction

    lines: list[str] = []
    with transaction.atomic():
        if before is not None:
            before()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    plan = "\n".join(lines)
    indexes = sorted(
        {match for pattern in INDEX_PATTERNS for match in pattern.findall(plan)}
    )
    return {
        "sql": shorten(PLACEHOLDERS.sub("%s, ..., ", sql), 4000)
        + ("" if params is None else f"  -- params: {shorten(params)}"),
        "plan": [shorten(line) for line in lines],
        "indexes": indexes,
        "seq_scans": sorted(set(SEQ_SCAN.findall(plan))),
    }


def shorten(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


if __name__ == "__main__":
    main()
