"""Keys expire on the database's clock, whatever each host's clock says.

The host's clock is set a month apart from the database's (django.utils
timezone.now, which the key layer once read); the database's is never touched.
"""

from datetime import timedelta
from unittest import mock

from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.functions import Now
from django.test import TestCase
from django.utils import timezone

from idempotency import store
from idempotency.functions import idempotent
from idempotency.models import IdempotencyKey
from idempotency.records import Attempt, Reply

DAY = 86400
REPLY = Reply(status=201, body=b"{}", headers={"Content-Type": "application/json"})
runs = []


@idempotent(key="clock-{name}", ttl_seconds=DAY)
def call_once(name):
    runs.append(name)
    return len(runs)


def attempt(key="clock"):
    return Attempt(
        owner=1, key=key, fingerprint="f" * 64, method="POST", path="/api/things/"
    )


def database_now():
    return (
        IdempotencyKey.objects.annotate(now=Now())
        .values_list("now", flat=True)[:1]
        .get()
    )


def host_clock(offset):
    """Set this host's clock ``offset`` apart from the database's."""
    real = timezone.now
    return mock.patch("django.utils.timezone.now", lambda: real() + offset)


def expire(key):
    """Let ``key`` expire a second ago on the database's clock."""
    IdempotencyKey.objects.filter(key=key).update(
        expires_at=ExpressionWrapper(
            Now() - timedelta(seconds=1), output_field=DateTimeField()
        )
    )


class DatabaseClockTests(TestCase):
    def setUp(self):
        runs.clear()

    def test_a_claim_stores_the_database_time_and_the_database_time_plus_the_ttl(self):
        for offset in (timedelta(days=30), -timedelta(days=30)):
            key = f"clock{offset.days}"
            with self.subTest(host_ahead_by=offset), host_clock(offset):
                self.assertIsNone(store.claim(attempt(key), ttl_seconds=DAY))
                row = IdempotencyKey.objects.get(key=key)
                now = database_now()
                self.assertAlmostEqual(
                    (now - row.created_at).total_seconds(), 0, delta=5
                )
                self.assertAlmostEqual(
                    (row.expires_at - now).total_seconds(), DAY, delta=5
                )

    def test_a_host_clock_ahead_does_not_expire_a_live_key(self):
        store.claim(attempt(), ttl_seconds=DAY)
        store.record(attempt(), REPLY)
        with host_clock(timedelta(days=30)):
            self.assertEqual(store.claim(attempt(), ttl_seconds=DAY), REPLY)
            self.assertEqual(store.purge_expired(), 0)
        self.assertEqual(IdempotencyKey.objects.get().state, "completed")

    def test_a_host_clock_behind_still_expires_a_key_the_database_expired(self):
        store.claim(attempt(), ttl_seconds=DAY)
        store.record(attempt(), REPLY)
        expire("clock")
        with host_clock(-timedelta(days=30)):
            self.assertIsNone(store.claim(attempt(), ttl_seconds=DAY))
            row = IdempotencyKey.objects.get()
            self.assertEqual(row.state, "in_flight")
            self.assertAlmostEqual(
                (row.expires_at - database_now()).total_seconds(), DAY, delta=5
            )

    def test_the_purge_deletes_what_the_database_expired_whatever_the_host_says(self):
        store.claim(attempt("old"), ttl_seconds=DAY)
        store.record(attempt("old"), REPLY)
        store.claim(attempt("live"), ttl_seconds=DAY)
        store.record(attempt("live"), REPLY)
        expire("old")
        with host_clock(-timedelta(days=30)):
            self.assertEqual(store.purge_expired(), 1)
        self.assertEqual(
            list(IdempotencyKey.objects.values_list("key", flat=True)), ["live"]
        )

    def test_idempotent_calls_keep_and_expire_their_keys_by_the_database_clock(self):
        self.assertEqual(call_once("a"), 1)
        with host_clock(timedelta(days=30)):
            self.assertEqual(call_once("a"), 1)
        expire("clock-a")
        with host_clock(-timedelta(days=30)):
            self.assertEqual(call_once("a"), 2)
        self.assertEqual(runs, ["a", "a"])
