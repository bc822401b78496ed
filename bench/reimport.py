"""Re-import cost: a 1,000-item batch against 1,000 single creates, and import_orders.

    python bench/reimport.py [--database-url URL] [--quick]

Creates a PostgreSQL database of its own (dropped on exit), migrates it, then
(a) posts 1,000 single creates and five 1,000-item batches through Django's
test client in this process, timing each (the statement counts are the
tests'), and (b) runs ``manage.py import_orders`` on a generated CSV file
twice, each run timed as a whole process. Its targets are in targets.py.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from keytable import Database
from targets import BATCH_COST, IMPORT_AGAIN, IMPORT_SECONDS, judged

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def batch_against_singles(email: str) -> float:
    """Return the per-item cost of single creates over that of 1,000-item batches."""
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

    def batch(prefix: str) -> None:
        items = [order(f"{prefix}-{n}") for n in range(BATCH)]
        post("/api/orders/batch/", {"orders": items})

    post("/api/orders/", order("warm-up"))
    single = seconds(
        lambda: [post("/api/orders/", order(f"s-{n}")) for n in range(BATCH)]
    )
    wall = statistics.median(seconds(lambda n=n: batch(f"b{n}")) for n in range(5))
    again = seconds(lambda: batch("b0"))
    print(f"(a) 1,000 single creates: {single:.2f} s")
    print(
        f"    1,000-item batch, median of 5: {wall * 1000:.0f} ms; again: {again * 1000:.0f} ms"
    )
    return single / wall


def import_file(path: Path, email: str) -> tuple[float, int]:
    """Run import_orders on ``path``; return its seconds and the orders it created."""
    command = [
        sys.executable,
        "manage.py",
        "import_orders",
        str(path),
        "--owner",
        email,
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"import_orders failed:\n{done.stderr}")
    print(f"(b) import_orders: {took:.1f} s ({done.stdout.strip()})")
    return took, int(re.search(r"created (\d+)", done.stdout).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    url = "postgres://root@127.0.0.1:5432/bench_reimport"
    parser.add_argument("--database-url", default=url, help="created and dropped")
    parser.add_argument("--quick", action="store_true", help="10,000 rows, not 100,000")
    args = parser.parse_args()
    rows = 10_000 if args.quick else 100_000
    os.environ.update(
        DATABASE_URL=args.database_url,
        DEBUG="0",
        SECRET_KEY="bench-reimport-secret-key-not-for-production",
        WEBHOOK_SECRET="bench-reimport-webhook-secret",
        DJANGO_SETTINGS_MODULE="idem_project.settings",
    )
    sys.path.insert(0, str(ROOT))
    database = Database(args.database_url)
    database.create()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from accounts.models import User

        email = "bench@example.com"
        User.objects.create_user(email=email, password="bench-password-1")
        figures: dict[str, float | None] = {BATCH_COST: batch_against_singles(email)}
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orders.csv"
            lines = (f"csv-{n:06d},{n % 97 + 1},{n % 5 + 1}\n" for n in range(rows))
            path.write_text("client_id,product_id,quantity\n" + "".join(lines))
            figures[IMPORT_SECONDS], _ = import_file(path, email)
            _, figures[IMPORT_AGAIN] = import_file(path, email)
        print(f"\n{rows:,} rows\n" + judged(figures, "reimport.py"))
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()


if __name__ == "__main__":
    main()
