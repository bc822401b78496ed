"""Re-import cost: a 1,000-item batch against 1,000 single creates, and import_orders.

    python bench/reimport.py [--server postgres://root@127.0.0.1:5432] [--rows 100000]

Creates a PostgreSQL database of its own (dropped on exit), migrates it, then
(a) posts 1,000 single creates and 1,000-item batches through Django's test
client in this process, timing each and counting its statements, and (b)
runs ``manage.py import_orders`` on a generated CSV file twice, timing each
run as a whole process. Targets: the batch at least 20 times cheaper per item,
the first import at most 60 s, the second creating nothing.
"""

import argparse
import os
import resource
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
class Timing:
    """One measured run: its wall and CPU time, and how many SQL statements it sent."""

    seconds: float
    cpu: float
    statements: int


@dataclass(frozen=True)
class ImportRun:
    """One run of import_orders: its wall and CPU time, and the counts it printed."""

    seconds: float
    cpu: float
    output: str


def admin(server: str, statement: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(DATABASE)))


def measure(action: Callable[[], None]) -> Timing:
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        start, cpu = time.perf_counter(), time.process_time()
        action()
    return Timing(
        seconds=time.perf_counter() - start,
        cpu=time.process_time() - cpu,
        statements=statements,
    )


def compare_batch_with_singles(email: str) -> None:
    from rest_framework.test import APIClient

    from accounts.models import User

    client = APIClient()
    client.force_authenticate(User.objects.with_email(email).get())

    def post(path: str, body: dict) -> None:
        response = client.post(path, body, format="json")
        if response.status_code not in (200, 201):
            raise SystemExit(f"{path}: {response.status_code} {response.content!r}")

    def singles() -> None:
        for n in range(BATCH):
            post(
                "/api/orders/", {"client_id": f"s-{n}", "product_id": 7, "quantity": 1}
            )

    def batch(prefix: str) -> None:
        orders = [
            {"client_id": f"{prefix}-{n}", "product_id": 7, "quantity": 1}
            for n in range(BATCH)
        ]
        post("/api/orders/batch/", {"orders": orders})

    post("/api/orders/", {"client_id": "warm-up", "product_id": 7, "quantity": 1})
    single = measure(singles)
    batches = [measure(lambda n=n: batch(f"b{n}")) for n in range(5)]
    again = measure(lambda: batch("b0"))
    best = min(batches, key=lambda t: t.seconds)
    median = statistics.median(t.seconds for t in batches)
    cpu = statistics.median(t.cpu for t in batches)
    print(
        f"(a) 1,000 single creates: {single.seconds:.2f} s wall, {single.cpu:.2f} s "
        f"CPU, {single.statements / BATCH:.1f} statements per item"
    )
    print(
        f"    1,000-item batch, median of 5: {median * 1000:.0f} ms wall, "
        f"{cpu * 1000:.0f} ms CPU (best {best.seconds * 1000:.0f} ms), "
        f"{best.statements} statements"
    )
    print(
        f"    same batch again: {again.seconds * 1000:.0f} ms wall, "
        f"{again.statements} statements"
    )
    print(
        f"    per-item cost, singles / batch: {single.seconds / median:.1f}x wall, "
        f"{single.cpu / cpu:.1f}x CPU (target >= 20x)"
    )


def import_file(path: Path, email: str, env: dict[str, str]) -> ImportRun:
    start = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "manage.py", "import_orders", str(path), "--owner", email],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"import_orders failed:\n{done.stderr}")
    return ImportRun(
        seconds=seconds,
        cpu=after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
        output=done.stdout.strip(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgres://root@127.0.0.1:5432")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.server}/{DATABASE}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-reimport-secret-key-not-for-production",
        "WEBHOOK_SECRET": "bench-reimport-webhook-secret",
        "DJANGO_SETTINGS_MODULE": "idem_project.settings",
    }
    os.environ.update(env)
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
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        compare_batch_with_singles(email)
        from django.db import connections

        connections.close_all()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orders.csv"
            with path.open("w") as file:
                file.write("client_id,product_id,quantity\n")
                file.writelines(
                    f"csv-{n:06d},{n % 97 + 1},{n % 5 + 1}\n" for n in range(args.rows)
                )
            first = import_file(path, email, env)
            second = import_file(path, email, env)
        print(
            f"(b) import_orders, {args.rows:,} rows: {first.seconds:.1f} s wall, "
            f"{first.cpu:.1f} s CPU ({first.output}) (target <= 60 s)"
        )
        print(
            f"    second run: {second.seconds:.1f} s wall, {second.cpu:.1f} s CPU "
            f"({second.output})"
        )
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        from django.db import connections

        connections.close_all()
        admin(args.server, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


if __name__ == "__main__":
    main()
