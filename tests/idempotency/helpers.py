"""Shared helpers of the idempotency tests."""

from django.contrib.auth.models import Group
from prometheus_client import REGISTRY

from idempotency.models import IdempotencyKey

TEST_URLS = "tests.idempotency.urls"
# The outcomes of idempotency_requests_total, as the contract names them.
OUTCOMES = (
    "created",
    "replayed",
    "mismatch",
    "in_use",
    "invalid",
    "required",
    "released",
)


def keyed(key, **headers):
    """Return the headers of a request that carries ``key``."""
    return {"Idempotency-Key": key, **headers}


def counts():
    """Return (groups created by the test views, key rows)."""
    return Group.objects.count(), IdempotencyKey.objects.count()


def row_texts():
    """Return every stored key row as one text, to look for secrets in it."""
    texts = []
    for row in IdempotencyKey.objects.values():
        for value in row.values():
            if isinstance(value, bytes | memoryview):
                value = bytes(value).decode("utf-8", "replace")
            texts.append(str(value))
    return "\n".join(texts)


def requests_total(outcome):
    return (
        REGISTRY.get_sample_value("idempotency_requests_total", {"outcome": outcome})
        or 0
    )


class CounterDelta:
    """Read how much each outcome's counter moved while the block ran."""

    outcomes = OUTCOMES

    def __enter__(self):
        self.before = {o: requests_total(o) for o in self.outcomes}
        return self

    def __exit__(self, *exc):
        self.moved = {
            o: requests_total(o) - self.before[o]
            for o in self.outcomes
            if requests_total(o) != self.before[o]
        }
