import time
from datetime import timedelta
from unittest import mock

from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from idempotency import store
from idempotency.exceptions import KeyInUse, KeyMismatch
from idempotency.models import IdempotencyKey
from idempotency.records import Attempt, Reply

REPLY = Reply(
    status=201,
    body=b'{"id":1}',
    headers={"Content-Type": "application/json", "Location": "/api/things/1/"},
)


def attempt(key="k-1", fingerprint="f" * 64, owner=1, **overrides):
    fields = {
        "owner": owner,
        "key": key,
        "fingerprint": fingerprint,
        "method": "POST",
        "path": "/api/things/",
        **overrides,
    }
    return Attempt(**fields)


def make_key(key="k", *, expires_in=3600, state="completed", owner=1, scope=""):
    now = timezone.now()
    return IdempotencyKey.objects.create(
        owner_id=owner,
        scope=scope,
        key=key,
        method="POST",
        path="/api/things/",
        fingerprint="f" * 64,
        state=state,
        status_code=201,
        response_body=b"{}",
        content_type="application/json",
        expires_at=now + timedelta(seconds=expires_in),
    )


class ClaimTests(TestCase):
    def test_first_claim_owns_the_key_with_an_in_flight_row(self):
        self.assertIsNone(store.claim(attempt()))
        row = IdempotencyKey.objects.get()
        self.assertEqual(
            (row.principal, row.key, row.method, row.path, row.fingerprint),
            ("user:1", "k-1", "POST", "/api/things/", "f" * 64),
        )
        self.assertEqual(row.state, IdempotencyKey.State.IN_FLIGHT)
        self.assertIsNone(row.status_code)
        self.assertAlmostEqual(
            (row.expires_at - row.created_at).total_seconds(), 86400, delta=1
        )

    def test_a_recorded_reply_is_returned_to_the_next_claim(self):
        store.claim(attempt())
        store.record(attempt(), REPLY)
        row = IdempotencyKey.objects.get()
        self.assertEqual((row.state, row.status_code), ("completed", 201))
        self.assertEqual(bytes(row.response_body), b'{"id":1}')
        self.assertEqual(
            (row.content_type, row.location), ("application/json", "/api/things/1/")
        )
        self.assertEqual(store.claim(attempt()), REPLY)

    def test_a_reply_without_headers_is_returned_without_headers(self):
        store.claim(attempt())
        store.record(attempt(), Reply(status=204, body=b""))
        self.assertEqual(store.claim(attempt()), Reply(status=204, body=b""))

    def test_another_fingerprint_is_a_mismatch(self):
        store.claim(attempt())
        store.record(attempt(), REPLY)
        with self.assertRaises(KeyMismatch):
            store.claim(attempt(fingerprint="e" * 64))

    def test_keys_belong_to_their_owner_and_scope(self):
        store.claim(attempt())
        store.record(attempt(), REPLY)
        self.assertIsNone(store.claim(attempt(owner=2, fingerprint="e" * 64)))
        self.assertIsNone(store.claim(attempt(owner=0)))
        self.assertIsNone(store.claim(attempt(owner=0, scope="function:f")))
        self.assertEqual(IdempotencyKey.objects.for_owner(1).count(), 1)
        self.assertEqual(IdempotencyKey.objects.count(), 4)

    def test_an_expired_key_is_claimed_anew_whatever_its_fingerprint(self):
        for fingerprint in ["f" * 64, "e" * 64]:
            with self.subTest(fingerprint=fingerprint):
                IdempotencyKey.objects.all().delete()
                make_key("k-1", expires_in=-1)
                self.assertIsNone(store.claim(attempt(fingerprint=fingerprint)))
                row = IdempotencyKey.objects.get()
                self.assertEqual(row.state, "in_flight")
                self.assertEqual(row.fingerprint, fingerprint)
                self.assertIsNone(row.status_code)
                self.assertEqual(bytes(row.response_body), b"")
                self.assertGreater(row.expires_at, timezone.now())

    def test_a_key_left_incomplete_is_claimed_anew(self):
        make_key("k-1", state="in_flight")
        self.assertIsNone(store.claim(attempt()))
        self.assertEqual(IdempotencyKey.objects.get().state, "in_flight")

    def test_a_rolled_back_claim_releases_the_key(self):
        with transaction.atomic():
            store.claim(attempt())
            transaction.set_rollback(True)
        self.assertFalse(IdempotencyKey.objects.exists())
        self.assertIsNone(store.claim(attempt()))

    def test_record_without_a_claim_is_an_error(self):
        with self.assertRaises(TransactionManagementError):
            store.record(attempt(), REPLY)

    def test_release_gives_up_the_key(self):
        store.claim(attempt())
        store.release(attempt())
        self.assertFalse(IdempotencyKey.objects.exists())

    def test_a_first_claim_is_one_statement(self):
        with CaptureQueriesContext(connection) as queries:
            store.claim(attempt())
        self.assertEqual(len(queries), 1)
        self.assertIn("ON CONFLICT", queries[0]["sql"])

    def test_a_replay_claim_is_one_statement_on_postgresql_two_elsewhere(self):
        store.claim(attempt())
        store.record(attempt(), REPLY)
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(store.claim(attempt()), REPLY)
        self.assertIn("ON CONFLICT", queries[0]["sql"])
        if connection.vendor == "postgresql":
            self.assertEqual(len(queries), 1)
        else:
            self.assertEqual(len(queries), 2)
            self.assertTrue(queries[1]["sql"].startswith("SELECT"))

    def test_a_record_is_one_statement(self):
        store.claim(attempt())
        with CaptureQueriesContext(connection) as queries:
            store.record(attempt(), REPLY)
        self.assertEqual(len(queries), 1)
        self.assertTrue(queries[0]["sql"].startswith("UPDATE"))

    def test_a_second_record_of_the_same_claim_is_an_error(self):
        store.claim(attempt())
        store.record(attempt(), REPLY)
        with self.assertRaises(TransactionManagementError):
            store.record(attempt(), REPLY)
        self.assertEqual(IdempotencyKey.objects.get().status_code, 201)

    def test_the_in_use_error_carries_retry_after(self):
        error = KeyInUse(wait=3)
        self.assertEqual((error.status_code, error.wait), (409, 3))
        self.assertEqual(error.get_codes()["code"], "idempotency_key_in_use")

    def test_the_principal_names_the_user_anonymous_or_the_scope(self):
        self.assertEqual(attempt(owner=42).principal, "user:42")
        self.assertEqual(attempt(owner=0).principal, "anonymous")
        self.assertEqual(attempt(owner=0, scope="function:f").principal, "function:f")


class ClaimOutsideTransactionTests(TransactionTestCase):
    def test_claim_outside_atomic_is_an_error(self):
        with self.assertRaises(TransactionManagementError):
            store.claim(attempt())
        self.assertFalse(IdempotencyKey.objects.exists())


class QuerySetTests(TestCase):
    def test_expired_and_unexpired_split_at_now(self):
        old, alive = make_key("old", expires_in=-1), make_key("alive")
        self.assertEqual(list(IdempotencyKey.objects.expired()), [old])
        self.assertEqual(list(IdempotencyKey.objects.unexpired()), [alive])
        later = timezone.now() + timedelta(hours=2)
        self.assertEqual(set(IdempotencyKey.objects.expired(later)), {old, alive})

    def test_for_owner(self):
        mine = make_key("a", owner=1)
        make_key("a", owner=2)
        make_key("a", owner=1, scope="function:f")
        self.assertEqual(list(IdempotencyKey.objects.for_owner(1)), [mine])

    def test_str_names_the_key_and_its_principal(self):
        self.assertEqual(str(make_key("k-9")), "k-9 (user:1)")


class PurgeTests(TransactionTestCase):
    def test_purge_deletes_expired_keys_in_batches_and_counts_them(self):
        for n in range(5):
            make_key(f"old-{n}", expires_in=-10)
        make_key("alive")
        with CaptureQueriesContext(connection) as queries:
            deleted = store.purge_expired(batch_size=2)
        self.assertEqual(deleted, 5)
        self.assertEqual(
            list(IdempotencyKey.objects.values_list("key", flat=True)), ["alive"]
        )
        statements = [
            q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT"))
        ]
        commits = [q for q in queries if q["sql"] == "COMMIT"]
        # The expired keys' first and last id, then windows of 2 ids: 2 + 2 + 1.
        # Each batch is one DELETE that selects its rows itself, so no id
        # travels to Python.
        self.assertTrue(statements[0].startswith("SELECT"))
        self.assertEqual(len(statements), 4)
        self.assertTrue(all(sql.startswith("DELETE") for sql in statements[1:]))
        self.assertEqual(len(commits), 3)  # one short transaction per batch

    def test_purge_walks_past_live_keys_and_gaps_between_ids(self):
        keys = [make_key(f"k-{n}", expires_in=-10 if n % 3 else 3600) for n in range(9)]
        IdempotencyKey.objects.filter(pk__in=[keys[4].pk, keys[5].pk]).delete()
        self.assertEqual(store.purge_expired(batch_size=2), 4)
        self.assertEqual(
            sorted(IdempotencyKey.objects.values_list("key", flat=True)),
            ["k-0", "k-3", "k-6"],
        )

    def purge_timed(self, **options):
        """Purge with the pauses recorded instead of slept; return both timings.

        Returns the purge's start, each DELETE's duration, and each pause as
        (when it was asked for, how long).
        """
        deletes, pauses = [], []

        def timed(execute, sql, params, many, context):
            began = time.monotonic()
            try:
                return execute(sql, params, many, context)
            finally:
                if sql.startswith("DELETE"):
                    deletes.append(time.monotonic() - began)

        def pause(seconds):
            pauses.append((time.monotonic(), seconds))

        expect = options.pop("expect")
        started = time.monotonic()
        with (
            connection.execute_wrapper(timed),
            mock.patch("idempotency.store.time.sleep", pause),
        ):
            self.assertEqual(store.purge_expired(**options), expect)
        return started, deletes, pauses

    def test_purge_pauses_between_batches_in_proportion_to_their_time(self):
        for n in range(5):
            make_key(f"old-{n}", expires_in=-10)
        started, deletes, pauses = self.purge_timed(
            batch_size=2, pause_factor=20, expect=5
        )
        # Three batches, a pause before the second and the third, each 20
        # times as long as the batch before it took: at least its DELETE, at
        # most all that ran since the previous pause.
        self.assertEqual(len(deletes), 3)
        self.assertEqual(len(pauses), 2)
        previous = started
        for (asked_at, seconds), delete in zip(pauses, deletes, strict=False):
            self.assertGreaterEqual(seconds, 20 * delete)
            self.assertLessEqual(seconds, 20 * (asked_at - previous))
            previous = asked_at

    def test_a_pause_factor_of_0_never_pauses(self):
        for n in range(5):
            make_key(f"old-{n}", expires_in=-10)
        _, deletes, pauses = self.purge_timed(batch_size=2, pause_factor=0, expect=5)
        self.assertEqual((len(deletes), pauses), (3, []))

    def test_the_pause_factor_comes_from_the_settings(self):
        make_key("old-1", expires_in=-10)
        make_key("old-2", expires_in=-10)
        with self.settings(IDEMPOTENCY={"PURGE_PAUSE_FACTOR": 20}):
            _, deletes, pauses = self.purge_timed(batch_size=1, expect=2)
        self.assertEqual(len(pauses), 1)
        self.assertGreaterEqual(pauses[0][1], 20 * deletes[0])
        make_key("old-3", expires_in=-10)
        make_key("old-4", expires_in=-10)
        with self.settings(IDEMPOTENCY={"PURGE_PAUSE_FACTOR": 0}):
            _, _, pauses = self.purge_timed(batch_size=1, expect=2)
        self.assertEqual(pauses, [])

    def test_dry_run_counts_and_deletes_nothing(self):
        for n in range(3):
            make_key(f"old-{n}", expires_in=-10)
        self.assertEqual(store.purge_expired(dry_run=True), 3)
        self.assertEqual(IdempotencyKey.objects.count(), 3)

    def test_purge_with_nothing_expired_is_zero(self):
        make_key("alive")
        self.assertEqual(store.purge_expired(), 0)
        self.assertEqual(IdempotencyKey.objects.count(), 1)
