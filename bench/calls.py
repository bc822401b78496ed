"""Where a key's cost goes: Python calls of a create, a keyed create and a replay.

    python bench/calls.py [--database-url URL] [--requests N]

Creates a PostgreSQL database of its own (dropped on exit), migrates it,
signs a user up, then sends each kind of request N times through Django's
WSGI handler in this process with ``LOG_LEVEL=INFO``, counting every Python
and C call with a ``sys.setprofile`` hook, attributed to the part of the key
layer on the stack (docs/benchmarks.md#where-a-keys-cost-goes). Counts do
not depend on the machine's load, as wall times do.
"""

import argparse
import collections
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from keytable import Database

ROOT = Path(__file__).resolve().parent.parent
# (file, function or "" for any, part): the first that matches a frame wins.
PARTS = (
    ("idempotency/metrics.py", "outcome", "metrics"),
    ("idempotency/metrics.py", "answered", "log line"),
    ("idempotency/fingerprint.py", "key_digest", "log line"),
    ("idempotency/fingerprint.py", "request_fingerprints", "HMAC fingerprint"),
    ("idempotency/conf.py", "fingerprint_secrets", "HMAC fingerprint"),
    ("idempotency/drf/payload.py", "request_payload", "canonical payload"),
    ("idempotency/sql.py", "insert_or_find", "claim SQL"),
    ("idempotency/sql.py", "complete", "record SQL"),
    ("idempotency/drf/replies.py", "reply_of", "record SQL"),
    ("idempotency/drf/replies.py", "replay_response", "replay reply"),
    ("rest_framework/views.py", "handle_exception", "replay reply"),
)


def part_of(code: CodeType, parent: str) -> str:
    """Return the part a frame of ``code`` belongs to, its caller's by default."""
    for path, name, part in PARTS:
        if code.co_filename.endswith(path) and (not name or code.co_name == name):
            return part
    return parent


def count_calls(send: Callable[[], None], times: int) -> collections.Counter[str]:
    """Call ``send`` ``times`` times; return the calls each part made, in all."""
    counts: collections.Counter[str] = collections.Counter()
    stack = ["other"]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            stack.append(part_of(frame.f_code, stack[-1]))
            counts[stack[-1]] += 1
        elif event == "return" and len(stack) > 1:
            stack.pop()
        elif event == "c_call":
            counts[stack[-1]] += 1

    sys.setprofile(hook)
    try:
        for _ in range(times):
            send()
    finally:
        sys.setprofile(None)
    return counts


def wsgi_post(app: Any, path: str, body: dict[str, Any], **headers: str) -> int:
    """POST ``body`` as JSON to the WSGI ``app``; return the status code."""
    data = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(data)),
        "CONTENT_TYPE": "application/json",
    }
    environ.update(
        {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    )
    status: list[str] = []
    reply = app(environ, lambda got, _headers, _exc=None: status.append(got))
    content = b"".join(reply)
    reply.close()
    code = int(status[0].split()[0])
    if code >= 300:
        raise SystemExit(f"POST {path}: {status[0]} {content!r}")
    return code


def measure(times: int) -> None:
    """Print the calls a request of each kind makes, by part of the key layer."""
    from django.core.handlers.wsgi import WSGIHandler

    app = WSGIHandler()
    user = {"email": "calls@example.com", "password": "bench-password-1"}
    wsgi_post(app, "/api/users/", {**user, "name": "Calls"})
    from rest_framework.authtoken.models import Token

    wsgi_post(app, "/api/auth/token/", user)
    token = Token.objects.get(user__email=user["email"]).key
    auth = {"Authorization": f"Token {token}"}
    serial = iter(range(10**9))

    def order(prefix: str) -> dict[str, Any]:
        return {"client_id": f"{prefix}-{next(serial)}", "product_id": 7, "quantity": 2}

    stored = order("replayed")
    wsgi_post(app, "/api/orders/", stored, **auth, **{"Idempotency-Key": "replayed"})
    kinds: dict[str, Callable[[], Any]] = {
        "create without key": lambda: wsgi_post(
            app, "/api/orders/", order("p"), **auth
        ),
        "keyed create": lambda: wsgi_post(
            app,
            "/api/orders/",
            order("k"),
            **auth,
            **{"Idempotency-Key": f"k{next(serial)}"},
        ),
        "replay": lambda: wsgi_post(
            app, "/api/orders/", stored, **auth, **{"Idempotency-Key": "replayed"}
        ),
    }
    for kind, send in kinds.items():
        for _ in range(10):
            send()  # warm: first calls import and build what later ones reuse
        counts = count_calls(send, times)
        print(f"{kind}: {sum(counts.values()) / times:,.0f} calls a request")
        for part, calls in counts.most_common():
            if part != "other":
                print(f"    {part:20s} {calls / times:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    url = "postgres://root@127.0.0.1:5432/bench_calls"
    parser.add_argument("--database-url", default=url, help="created and dropped")
    parser.add_argument("--requests", type=int, default=50, help="of each kind")
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=args.database_url,
        DEBUG="0",
        LOG_LEVEL="INFO",
        SECRET_KEY="bench-calls-secret-key-not-for-production-0123456789",
        WEBHOOK_SECRET="bench-calls-webhook-secret",
        ALLOWED_HOSTS="127.0.0.1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
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
        measure(args.requests)
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()


if __name__ == "__main__":
    main()
