"""The consumers' Prometheus metrics."""

from prometheus_client import Counter

CONSUMED_MESSAGES = Counter(
    "consumed_messages",
    "Messages taken from a queue by a consumer, by outcome (applied, duplicate, dead).",
    ["consumer", "outcome"],
)
