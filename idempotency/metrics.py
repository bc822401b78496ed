"""The key layer's Prometheus metrics and its log line per outcome."""

import logging
from collections.abc import Callable

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "idempotency_requests",
    "Requests under the key layer, by outcome.",
    ["outcome"],
)
WAIT_SECONDS = Histogram(
    "idempotency_wait_seconds",
    "Seconds a duplicate waited for the in-flight request with its key.",
)

OUTCOMES = (
    "created",
    "replayed",
    "mismatch",
    "in_use",
    "invalid",
    "required",
    "released",
)
# Outcomes whose answer gets a log line: the ones a client's retry produced.
LOGGED_OUTCOMES = ("replayed", "mismatch", "in_use")

logger = logging.getLogger("idempotency")

# Every outcome is exposed at 0 before it first happens; its child counter is
# looked up once per process, not on every request.
_COUNTERS = {name: REQUESTS.labels(outcome=name) for name in OUTCOMES}


def outcome(name: str) -> None:
    """Count one request with the outcome ``name``."""
    _COUNTERS[name].inc()


def answered(
    name: str,
    *,
    principal: str,
    key_digest: Callable[[], str],
    method: str,
    path: str,
) -> None:
    """Count an answer to a retry (replayed, mismatch, in_use) and log one line.

    The line names the key by a digest only: a key may be the only secret of
    an anonymous request. ``key_digest`` computes it, only when the line is
    written.
    """
    outcome(name)
    if not logger.isEnabledFor(logging.INFO):
        return
    digest = key_digest()
    logger.info(
        "idempotency %s principal=%s key=%s method=%s path=%s",
        name,
        principal,
        digest,
        method,
        path,
        extra={
            "idempotency_outcome": name,
            "principal": principal,
            "key_digest": digest,
            "method": method,
            "path": path,
        },
    )
