"""The outbox's Prometheus counter."""

from prometheus_client import Counter

#: Outcomes: ``handed_over`` (after the commit), ``hand_over_failed`` (the broker
#: did not take it; the relay will), ``relayed``, ``sent``, ``retried``,
#: ``failed`` (given up) and ``duplicate`` (a delivery of a message already sent).
OUTBOX_MESSAGES = Counter(
    "outbox_messages",
    "Outbox messages by topic and outcome.",
    ["topic", "outcome"],
)
