"""The project's Prometheus counters other than the key layer's.

Apps increment these; ``/metrics`` shows them summed over every process that
shares ``PROMETHEUS_MULTIPROC_DIR`` (see docs/observability.md).
"""

from prometheus_client import REGISTRY, Counter
from prometheus_client.registry import Collector

OUTBOX_MESSAGES = Counter(
    "outbox_messages",
    "Outbox messages, by topic and outcome.",
    ["topic", "outcome"],
)
CONSUMED_MESSAGES = Counter(
    "consumed_messages",
    "Messages the consumers received, by consumer and outcome "
    "(applied, duplicate, dead).",
    ["consumer", "outcome"],
)
HTTP_RESPONSES = Counter(
    "http_responses",
    "Responses of the web processes, by request method and status code.",
    ["method", "status"],
)

#: Shown on /metrics before their first count, in every mode.
COUNTERS = (OUTBOX_MESSAGES, CONSUMED_MESSAGES, HTTP_RESPONSES)

# Any other method is counted as "other", so a client cannot add label values.
_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def count_response(*, method: str, status: int) -> None:
    """Count one response of the web process."""
    method = method if method in _METHODS else "other"
    HTTP_RESPONSES.labels(method=method, status=str(status)).inc()


#: Collectors that read their values when scraped (gauges read from the
#: database); /metrics asks each of them on every scrape, in every mode.
SCRAPE_TIME_COLLECTORS: list[Collector] = []


def scrape_time_register(collector: Collector) -> None:
    """Add a collector that /metrics asks for its values on every scrape."""
    SCRAPE_TIME_COLLECTORS.append(collector)
    REGISTRY.register(collector)
