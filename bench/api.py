"""Calls to the API: one HTTP request, and the accounts the benchmark signs up."""

import http.client
import json
from dataclasses import dataclass
from typing import Any

from harness import BenchError


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: Any


def call(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Send one request to the server and return its answer, JSON decoded."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = dict(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if token:
        sent["Authorization"] = f"Token {token}"
    try:
        conn.request(method, path, body=payload, headers=sent)
        answer = conn.getresponse()
        raw = answer.read()
        received = {name.lower(): value for name, value in answer.getheaders()}
    finally:
        conn.close()
    decoded: Any = raw
    if received.get("content-type", "").startswith("application/json"):
        decoded = json.loads(raw)
    return Reply(answer.status, received, decoded)


def expect(reply: Reply, status: int, what: str) -> Reply:
    """Return ``reply``, or raise BenchError when its status is not ``status``."""
    if reply.status != status:
        raise BenchError(
            f"{what}: expected {status}, got {reply.status}: {reply.body!r}"
        )
    return reply


@dataclass(frozen=True)
class Account:
    """A user made through the API, with its id, principal and token."""

    id: int
    email: str
    token: str

    @property
    def principal(self) -> str:
        return f"user:{self.id}"


def sign_up(port: int, *, email: str, password: str) -> Account:
    """Create a user with ``POST /api/users/`` and get its token from the API."""
    user = expect(
        call(
            port,
            "POST",
            "/api/users/",
            {"email": email, "name": "Bench", "password": password},
        ),
        201,
        "sign-up",
    ).body
    token = expect(
        call(port, "POST", "/api/auth/token/", {"email": email, "password": password}),
        200,
        "token",
    ).body["token"]
    return Account(id=user["id"], email=email, token=token)
