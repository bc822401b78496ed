"""Print, as JSON, the query plans of the key layer's statements on the full table.

Run by the suite with the server's environment and a bench user's token:
a keyed create and its replay go through Django's test client (the same
middleware and views as under gunicorn) while their statements are
captured; each statement on the key table, and the purge's first batch, is
then run under ``EXPLAIN (ANALYZE, BUFFERS)`` in a transaction rolled back.
"""

import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from idempotency.models import IdempotencyKey  # noqa: E402
from idempotency.store import purge_expired  # noqa: E402

TABLE = IdempotencyKey._meta.db_table


class Captured(Exception):
    """Stops the purge at its first DELETE; everything is rolled back."""


def key_statements(send: Callable[[], Any]) -> list[str]:
    """Return the statements on the key table that ``send()`` ran."""
    with CaptureQueriesContext(connection) as queries:
        send()
    return [q["sql"] for q in queries.captured_queries if TABLE in q["sql"]]


def first(statements: list[str], verb: str) -> str | None:
    """Return the first of ``statements`` that starts with ``verb``, if any."""
    return next((s for s in statements if s.lstrip().upper().startswith(verb)), None)


def purge_batch() -> tuple[str, Any]:
    """Return the purge's first DELETE and its parameters, deleting nothing."""
    seen: list[tuple[str, Any]] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("DELETE"):
            seen.append((sql, params))
            raise Captured
        return execute(sql, params, many, context)

    try:
        with transaction.atomic(), connection.execute_wrapper(spy):
            purge_expired()
    except Captured:
        pass
    return seen[0]


def explain(
    sql: str, params: Any = None, before: Callable[[], Any] | None = None
) -> tuple[str, list[str]]:
    """EXPLAIN ANALYZE ``sql`` in a transaction that is rolled back."""
    with transaction.atomic():
        if before:
            before()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return sql[:2000], plan


def main(token: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    key = f"explain-{uuid.uuid4().hex}"
    body = {"client_id": key, "product_id": 7, "quantity": 2}

    def send() -> Any:
        return client.post(
            "/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
        )

    created, replayed = key_statements(send), key_statements(send)
    forget = lambda: IdempotencyKey.objects.filter(key=key).delete()  # noqa: E731
    wanted = [
        ("claim of a new key", first(created, "INSERT"), forget),
        ("claim of a taken key", first(replayed, "INSERT"), None),
        ("read of a stored reply", first(replayed, "SELECT"), None),
        ("record", first(created, "UPDATE"), None),
    ]
    plans = {name: explain(sql, before=before) for name, sql, before in wanted if sql}
    plans["purge batch"] = explain(*purge_batch())
    print(json.dumps(plans, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
