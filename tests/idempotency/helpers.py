"""Shared helpers of the idempotency tests."""

from django.contrib.auth.models import Group

from idempotency.models import IdempotencyKey

TEST_URLS = "tests.idempotency.urls"


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
