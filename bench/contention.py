"""The contention scenario's check: each key executed once, in the database too."""

import time
from typing import Any

import keytable
from api import Account
from database import Database


def contention_counts(db: Database, account: Account) -> tuple[int, int]:
    """Return the contention user's orders and keys once the server has settled.

    Requests wrk sent just before it stopped are still executed after it
    exits; wait until the counts hold still.
    """
    last: tuple[int, int] | None = None
    steady = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with db.connect() as conn:
            orders = conn.execute(
                "SELECT count(*) FROM orders_order WHERE owner_id = %s",
                (account.id,),
            ).fetchone()[0]
            keys = conn.execute(
                f"SELECT count(*) FROM {keytable.TABLE} WHERE principal = %s",
                (account.principal,),
            ).fetchone()[0]
        steady = steady + 1 if (orders, keys) == last else 0
        last = (orders, keys)
        if steady >= 3:
            break
        time.sleep(0.3)
    return last or (0, 0)


def check_contention(
    record: dict[str, Any],
    result: dict[str, Any],
    before: tuple[int, int] | None,
    after: tuple[int, int],
    *,
    round_no: int,
) -> dict[str, Any]:
    """Add what a contention run did wrong to ``record``; return its facts."""
    before = before or (0, 0)
    executions = result["extra"].get("executions") or {}
    keys_issued = int(result["extra"].get("keys_issued") or 0)
    orders, keys = after[0] - before[0], after[1] - before[1]
    many = {key: n for key, n in executions.items() if n > 1}
    server_errors = sum(
        n for code, n in record["statuses"].items() if code.startswith("5")
    )
    problems = record["problems"]
    if many:
        problems.append(f"{len(many)} keys executed more than once")
    if orders != keys_issued:
        problems.append(f"{orders} orders for {keys_issued} keys")
    if keys != keys_issued:
        problems.append(f"{keys} key rows for {keys_issued} keys")
    record["valid"] = not problems
    return {
        "round": round_no,
        "phase": record["phase"],
        "keys_issued": keys_issued,
        "orders_created": orders,
        "key_rows": keys,
        "keys_answered": len(executions),
        "max_executions": max(executions.values(), default=0),
        "server_errors": server_errors,
        "statuses": record["statuses"],
    }
