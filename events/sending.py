"""One POST of an event to an endpoint: signed, bounded by the timeout, never redirected."""

import http.client
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from events.addresses import (
    PinnedHTTPConnection,
    PinnedHTTPSConnection,
    UnsafeURL,
    url_resolve,
)
from events.signatures import signature_header


@dataclass(frozen=True)
class Answer:
    """What an endpoint answered: a status, or the error that stood for one."""

    status: int | None
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        """Return whether the endpoint took the event."""
        return self.status is not None and 200 <= self.status < 300


def webhook_post(
    *,
    url: str,
    event_id: str,
    body: bytes,
    secret: str,
    timeout: float,
    allow_private: bool,
) -> Answer:
    """POST ``body`` to ``url`` once and return its answer; never raise for the network.

    The host is resolved and checked again here, and the connection goes to
    the address that was checked. A redirect is an answer like any other
    non-2xx: it is not followed. The error never holds the secret.
    """
    started = time.monotonic()

    def answer(status: int | None, error: str = "") -> Answer:
        return Answer(status, error, int((time.monotonic() - started) * 1000))

    try:
        host, port, address = url_resolve(url, allow_private=allow_private)
    except UnsafeURL as exc:
        return answer(None, f"refused: {exc}")
    parts = urlsplit(url)
    cls = PinnedHTTPSConnection if parts.scheme == "https" else PinnedHTTPConnection
    connection = cls(host, port, address=address, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Idem-Webhooks/1",
        "Idem-Event-Id": event_id,
        "Idempotency-Key": event_id,
        "Idem-Signature": signature_header(
            body=body, secret=secret, timestamp=int(time.time())
        ),
    }
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
    except TimeoutError:
        return answer(None, f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return answer(None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connection.close()
    result = answer(response.status)
    if result.duration_ms > timeout * 1000:
        return Answer(None, f"no answer within {timeout:g} s", result.duration_ms)
    if not result.delivered:
        return Answer(response.status, f"HTTP {response.status}", result.duration_ms)
    return result
