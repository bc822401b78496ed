"""Run a keyed create, its replay and a client_id create; print Citus' plan of each statement.

Run in a process of its own whose DATABASE_URL names a Citus coordinator
(tests/core/test_citus.py does): it prints one JSON object, each path's
statements on distributed tables with the task count of their plan.
"""

import json
import os
import re
import sys
import uuid


def main():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from accounts.models import User
    from core.citus import Distributed, table_plans

    distributed = [p.table for p in table_plans() if isinstance(p.plan, Distributed)]
    user = User.objects.create_user(f"{uuid.uuid4()}@example.com", "pw")
    client = APIClient()
    client.force_authenticate(user)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"client_id": str(uuid.uuid4()), "product_id": 1, "quantity": 1}
    paths = {
        "keyed create": (body, key),
        "replay": (body, key),
        "client_id create": ({**body, "client_id": str(uuid.uuid4())}, {}),
    }
    report = {}
    for name, (data, headers) in paths.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/orders/", data, format="json", headers=headers)
        statements = []
        for query in queries.captured_queries:
            sql = query["sql"]
            if not any(f'"{table}"' in sql for table in distributed):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            tasks = re.findall(r"Task Count: (\d+)", plan)
            statements.append({"sql": sql[:120], "tasks": [int(t) for t in tasks]})
        report[name] = {"status": response.status_code, "statements": statements}
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
