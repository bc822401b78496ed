"""The key layer's Prometheus metrics and its log line per outcome."""

import logging

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

for _outcome in OUTCOMES:
    # Every outcome is exposed at 0 before it first happens.
    REQUESTS.labels(outcome=_outcome)


def outcome(name: str) -> None:
    """Count one request with the outcome ``name``."""
    REQUESTS.labels(outcome=name).inc()


def answered(
    name: str, *, principal: str, key_digest: str, method: str, path: str
) -> None:
    """Count an answer to a retry (replayed, mismatch, in_use) and log one line.

    The line names the key by a digest only: a key may be the only secret of
    an anonymous request.
    """
    outcome(name)
    logger.info(
        "idempotency %s principal=%s key=%s method=%s path=%s",
        name,
        principal,
        key_digest,
        method,
        path,
        extra={
            "idempotency_outcome": name,
            "principal": principal,
            "key_digest": key_digest,
            "method": method,
            "path": path,
        },
    )
