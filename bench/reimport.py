"""Re-import cost: a 1,000-item batch against 1,000 single creates, and import_orders.

    python bench/reimport.py [--server postgres://root@127.0.0.1:5432] [--rows 100000]

Creates a PostgreSQL database of its own (dropped on exit), migrates it, then
(a) posts 1,000 single creates and five 1,000-item batches through Django's
test client in this process, timing each (the statement counts are the
tests'), and (b)
runs ``manage.py import_orders`` on a generated CSV file twice, each run timed
as a whole process. Targets: the batch at least 20 times cheaper per item, the
first import at most 60 s, the second creating nothing.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_reimport"
BATCH = 1000


@dataclass(frozen=True)
class Run:
    """One measured run: wall seconds, and what it printed."""

    seconds: float
    output: str = ""


def admin(server: str, statement: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(DATABASE)))


def measure(action: Callable[[], None]) -> Run:
    start = time.perf_counter()
    action()
    return Run(time.perf_counter() - start)


def compare_batch_with_singles(email: str) -> None:
    from rest_framework.test import APIClient

    from accounts.models import User

    client = APIClient()
    client.force_authenticate(User.objects.with_email(email).get())

    def post(path: str, body: object) -> None:
        response = client.post(path, body, format="json")
        if response.status_code not in (200, 201):
            raise SystemExit(f"{path}: {response.status_code} {response.content!r}")

    def order(client_id: str) -> dict[str, object]:
        return {"client_id": client_id, "product_id": 7, "quantity": 1}

    def singles() -> None:
        for n in range(BATCH):
            post("/api/orders/", order(f"s-{n}"))

    def batch(prefix: str) -> None:
        post(
            "/api/orders/batch/",
            {"orders": [order(f"{prefix}-{n}") for n in range(BATCH)]},
        )

    post("/api/orders/", order("warm-up"))
    single = measure(singles)
    batches = [measure(lambda n=n: batch(f"b{n}")) for n in range(5)]
    again = measure(lambda: batch("b0"))
    wall = statistics.median(run.seconds for run in batches)
    print(f"(a) 1,000 single creates: {single.seconds:.2f} s")
    print(
        f"    1,000-item batch, median of 5: {wall * 1000:.0f} ms; "
        f"sent again: {again.seconds * 1000:.0f} ms"
    )
    print(
        f"    per-item cost, singles / batch: {single.seconds / wall:.1f}x (target >= 20x)"
    )


def import_file(path: Path, email: str, env: dict[str, str]) -> Run:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", "import_orders", str(path), "--owner", email],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"import_orders failed:\n{done.stderr}")
    return Run(time.perf_counter() - start, output=done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=f"{args.server}/{DATABASE}",
        DEBUG="0",
        SECRET_KEY="bench-reimport-secret-key-not-for-production",
        WEBHOOK_SECRET="bench-reimport-webhook-secret",
        DJANGO_SETTINGS_MODULE="idem_project.settings",
    )
    sys.path.insert(0, str(ROOT))
    admin(args.server, "DROP DATABASE IF EXISTS {} WITH (FORCE)")
    admin(args.server, "CREATE DATABASE {}")
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from accounts.models import User

        email = "bench@example.com"
        User.objects.create_user(email=email, password="bench-password-1")
        compare_batch_with_singles(email)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orders.csv"
            with path.open("w") as file:
                file.write("client_id,product_id,quantity\n")
                file.writelines(
                    f"csv-{n:06d},{n % 97 + 1},{n % 5 + 1}\n" for n in range(args.rows)
                )
            runs = [import_file(path, email, dict(os.environ)) for _ in range(2)]
        for name, run in zip(
            ("(b) import_orders", "    second run"), runs, strict=True
        ):
            print(
                f"{name}, {args.rows:,} rows: {run.seconds:.1f} s ({run.output}) "
                "(target <= 60 s)"
            )
    finally:
        from django.db import connections

        connections.close_all()
        admin(args.server, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


if __name__ == "__main__":
    main()
