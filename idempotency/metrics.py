"""The key layer's Prometheus metrics and its log line per outcome."""

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
