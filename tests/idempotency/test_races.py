import threading
import time
from datetime import timedelta

from django.db import connection, transaction
from django.test import TransactionTestCase, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.models import User
from idempotency import store
from idempotency.exceptions import KeyInUse
from idempotency.models import IdempotencyKey
from idempotency.records import Attempt
from tests.concurrency import needs_postgresql, run_together
from tests.factories import make_user, token_client
from tests.idempotency import views
from tests.idempotency.helpers import TEST_URLS, CounterDelta, counts, keyed
from tests.servers import wait_for


def wait_count():
    return REGISTRY.get_sample_value("idempotency_wait_seconds_count")


def outcome_of(response):
    return response.status_code, response.headers.get("Idempotent-Replayed")


class HeldClaim:
    """A claim held in another thread's open transaction until ``release()``."""

    def __init__(self, attempt):
        self.claimed, self.released = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.hold, args=(attempt,))

    def hold(self, attempt):
        try:
            with transaction.atomic():
                store.claim(attempt)
                self.claimed.set()
                self.released.wait(10)
        finally:
            connection.close()

    def release(self):
        """Let the holder commit (without recording a reply) and wait for it."""
        self.released.set()
        self.thread.join()


def hold_claim(test, attempt):
    """Start a ``HeldClaim`` of ``attempt``; return once the key is claimed."""
    held = HeldClaim(attempt)
    held.thread.start()
    test.addCleanup(held.release)
    test.assertTrue(held.claimed.wait(10))
    return held


class RaceAssertions:
    def assert_one_execution(self, responses):
        errors = [r for r in responses if isinstance(r, BaseException)]
        self.assertEqual(errors, [])
        statuses = sorted(r.status_code for r in responses)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertTrue(set(statuses) <= {200, 201, 409}, statuses)
        for response in responses:
            if response.status_code == 200:
                self.assertEqual(response["Idempotent-Replayed"], "true")
            if response.status_code == 409:
                self.assertEqual(response.json()["code"], "idempotency_key_in_use")
                self.assertEqual(response["Retry-After"], "1")
        first = next(r for r in responses if r.status_code == 201)
        for response in responses:
            if response.status_code == 200:
                self.assertEqual(response.content, first.content)


@needs_postgresql
class SignUpRaceTests(RaceAssertions, TransactionTestCase):
    def test_16_identical_keyed_sign_ups_create_one_user(self):
        body = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}

        def sign_up():
            return APIClient().post(
                "/api/users/", body, format="json", headers=keyed("sign-up-race")
            )

        responses = run_together(sign_up, threads=16)
        self.assert_one_execution(responses)
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(IdempotencyKey.objects.get().status_code, 201)


@needs_postgresql
@override_settings(ROOT_URLCONF=TEST_URLS)
class KeyRaceTests(RaceAssertions, TransactionTestCase):
    def test_16_identical_keyed_creates_run_the_view_once(self):
        client = token_client(make_user())

        def create():
            return client.post(
                "/api/private/", {"name": "race"}, format="json", headers=keyed("race")
            )

        responses = run_together(create, threads=16)
        self.assert_one_execution(responses)
        self.assertEqual(counts(), (1, 1))

    def test_16_identical_retries_of_an_expired_key_run_the_view_once(self):
        client = token_client(make_user())

        def create():
            return client.post(
                "/api/private/", {"name": "race"}, format="json", headers=keyed("race")
            )

        self.assertEqual(create().status_code, 201)
        IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        responses = run_together(create, threads=16)
        self.assert_one_execution(responses)
        self.assertEqual(counts(), (2, 1))

    def test_16_different_keys_all_run_at_once(self):
        client = token_client(make_user())
        keys = iter(range(16))
        lock = threading.Lock()

        def create():
            with lock:
                key = f"key-{next(keys)}"
            return client.post(
                "/api/private/", {"name": "race"}, format="json", headers=keyed(key)
            )

        responses = run_together(create, threads=16)
        self.assertEqual(sorted(r.status_code for r in responses), [201] * 16)
        self.assertEqual(counts(), (16, 16))


@needs_postgresql
@override_settings(ROOT_URLCONF=TEST_URLS)
class InFlightTests(TransactionTestCase):
    def setUp(self):
        views.reset_hold()
        self.addCleanup(views.HOLD["release"].set)
        self.results = {}

    def start_first(self, path="/api/slow/"):
        def first():
            try:
                self.results["first"] = APIClient().post(
                    path, {"n": 1}, format="json", headers=keyed("slow")
                )
            finally:
                connection.close()

        thread = threading.Thread(target=first)
        thread.start()
        self.addCleanup(thread.join)
        self.assertTrue(views.HOLD["entered"].wait(10))
        return thread

    def duplicate(self, path="/api/slow/"):
        return APIClient().post(path, {"n": 1}, format="json", headers=keyed("slow"))

    def test_a_view_sets_how_long_a_duplicate_waits(self):
        thread = self.start_first("/api/impatient/")
        with self.settings(IDEMPOTENCY={"IN_FLIGHT_WAIT_SECONDS": 30}):
            response = self.duplicate("/api/impatient/")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "idempotency_key_in_use")
        views.HOLD["release"].set()
        thread.join()
        self.assertEqual(self.results["first"].status_code, 201)

    def test_a_duplicate_of_a_request_in_flight_is_409_with_retry_after(self):
        thread = self.start_first()
        waits = wait_count()
        with (
            self.settings(
                IDEMPOTENCY={"IN_FLIGHT_WAIT_SECONDS": 0.2, "RETRY_AFTER_SECONDS": 3}
            ),
            CounterDelta() as delta,
            self.assertLogs("idempotency", level="INFO") as logs,
        ):
            started = time.monotonic()
            response = self.duplicate()
            waited = time.monotonic() - started
        self.assertEqual(delta.moved, {"in_use": 1})
        self.assertEqual(wait_count(), waits + 1)
        [line] = logs.output
        self.assertIn("idempotency in_use principal=anonymous key=", line)
        self.assertNotIn("key=slow", line)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(
            response.json(),
            {
                "detail": "A request with this Idempotency-Key is still in progress.",
                "code": "idempotency_key_in_use",
            },
        )
        self.assertEqual(response["Retry-After"], "3")
        self.assertLess(waited, 5)
        views.HOLD["release"].set()
        thread.join()
        self.assertEqual(self.results["first"].status_code, 201)
        again = self.duplicate()
        self.assertEqual(outcome_of(again), (200, "true"))
        self.assertEqual(again.content, self.results["first"].content)
        self.assertEqual(counts(), (1, 1))

    def test_a_duplicate_waits_for_the_first_and_replays_its_reply(self):
        thread = self.start_first()
        second = {}

        def duplicate():
            try:
                second["response"] = self.duplicate()
            finally:
                connection.close()

        waiter = threading.Thread(target=duplicate)
        waits = wait_count()
        with self.settings(IDEMPOTENCY={"IN_FLIGHT_WAIT_SECONDS": 20}):
            waiter.start()
            # The duplicate is polling once its connection last ran the claim.
            wait_for(self.claim_is_polling)
            views.HOLD["release"].set()
            thread.join()
            waiter.join()
        self.assertEqual(self.results["first"].status_code, 201)
        self.assertEqual(outcome_of(second["response"]), (200, "true"))
        self.assertEqual(second["response"].content, self.results["first"].content)
        self.assertEqual(wait_count(), waits + 1)
        self.assertEqual(counts(), (1, 1))

    def claim_is_polling(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND query LIKE %s",
                ["%pg_try_advisory_xact_lock%"],
            )
            return cursor.fetchone()[0] > 0

    def test_the_store_raises_key_in_use_while_another_transaction_holds_the_key(self):
        held = hold_claim(self, Attempt(1, "held", "f" * 64, "POST", "/"))
        with (
            self.settings(IDEMPOTENCY={"IN_FLIGHT_WAIT_SECONDS": 0}),
            self.assertRaises(KeyInUse),
            transaction.atomic(),
        ):
            store.claim(Attempt(1, "held", "f" * 64, "POST", "/"))
        held.release()
        # The holder's transaction committed without record(): the key was
        # left incomplete, so the next claim takes it over.
        with transaction.atomic():
            self.assertIsNone(store.claim(Attempt(1, "held", "f" * 64, "POST", "/")))


@needs_postgresql
class PurgeRaceTests(TransactionTestCase):
    def test_the_purge_skips_a_key_being_taken_over_without_waiting(self):
        expired = timezone.now() - timedelta(seconds=1)
        for key in ("taken", "old-1", "old-2"):
            IdempotencyKey.objects.create(
                owner_id=1,
                key=key,
                method="POST",
                path="/",
                fingerprint="f" * 64,
                state=IdempotencyKey.State.COMPLETED,
                status_code=201,
                expires_at=expired,
            )
        held = hold_claim(self, Attempt(1, "taken", "e" * 64, "POST", "/"))
        started = time.monotonic()
        self.assertEqual(store.purge_expired(batch_size=1), 2)
        self.assertLess(time.monotonic() - started, 5)
        held.release()
        # The taken-over key committed with a new lifetime and is kept.
        row = IdempotencyKey.objects.get()
        self.assertEqual((row.key, row.fingerprint), ("taken", "e" * 64))
        self.assertGreater(row.expires_at, timezone.now())
