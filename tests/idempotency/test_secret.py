import hashlib

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TestCase, TransactionTestCase
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from idempotency.fingerprint import body_payload
from idempotency.models import IdempotencyKey
from tests.idempotency.helpers import keyed

SIGN_UP = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}


def bare_sha256_guesses(body):
    """Return the digests a reader could compute from a guessed body alone."""
    payload = body_payload(content_type="application/json", body=body)
    inner = hashlib.sha256(payload).hexdigest().encode()
    return {
        hashlib.sha256(b"POST\n/api/users/\n" + inner).hexdigest(),
        hashlib.sha256(payload).hexdigest(),
        hashlib.sha256(body).hexdigest(),
    }


class FingerprintSecretTests(TestCase):
    def sign_up(self, key="su", **fields):
        return APIClient().post(
            "/api/users/", {**SIGN_UP, **fields}, format="json", headers=keyed(key)
        )

    def test_a_stored_fingerprint_is_not_a_bare_sha256_of_the_payload(self):
        self.assertEqual(self.sign_up().status_code, 201)
        stored = IdempotencyKey.objects.get().fingerprint
        self.assertRegex(stored, r"^[0-9a-f]{64}$")
        body = APIClient()._encode_data(SIGN_UP, format="json")[0]
        self.assertNotIn(stored, bare_sha256_guesses(body))

    def test_changing_the_secret_changes_the_fingerprint(self):
        with self.settings(SECRET_KEY="first-secret-" + "x" * 40):
            self.sign_up("a")
        with self.settings(SECRET_KEY="second-secret-" + "x" * 40):
            # The same request again, as if for the first time.
            IdempotencyKey.objects.update(key="b")
            User.objects.all().delete()
            self.sign_up("a")
        first, second = (
            IdempotencyKey.objects.get(key=key).fingerprint for key in ("b", "a")
        )
        self.assertNotEqual(first, second)

    def test_after_a_secret_change_a_retry_of_an_old_key_is_422_and_runs_nothing(self):
        with self.settings(SECRET_KEY="first-secret-" + "x" * 40):
            self.assertEqual(self.sign_up().status_code, 201)
        with self.settings(SECRET_KEY="second-secret-" + "x" * 40):
            retry = self.sign_up()
        self.assertEqual(retry.status_code, 422)
        self.assertEqual(retry.json()["code"], "idempotency_key_mismatch")


OLD, NEW = "old-secret-" + "x" * 40, "new-secret-" + "x" * 40


class SecretRotationTests(TestCase):
    def sign_up(self, secret, fallbacks=(), **fields):
        with self.settings(SECRET_KEY=secret, SECRET_KEY_FALLBACKS=list(fallbacks)):
            return APIClient().post(
                "/api/users/", {**SIGN_UP, **fields}, format="json", headers=keyed("r")
            )

    def test_a_key_stored_under_a_secret_now_in_the_fallbacks_is_replayed(self):
        first = self.sign_up(OLD)
        self.assertEqual(first.status_code, 201)
        retry = self.sign_up(NEW, [OLD])
        self.assertEqual(retry.status_code, 200, retry.content)
        self.assertEqual(retry.json(), first.json())
        self.assertEqual(User.objects.count(), 1)

    def test_another_payload_under_a_fallback_is_still_422(self):
        self.sign_up(OLD)
        retry = self.sign_up(NEW, [OLD], name="Someone Else")
        self.assertEqual(retry.status_code, 422)
        self.assertEqual(retry.json()["code"], "idempotency_key_mismatch")

    def test_a_rolling_deploy_in_two_steps_replays_on_every_host(self):
        # Step 1 teaches every host the new secret as a fallback; step 2
        # makes it the secret. Hosts of adjacent steps know each other's.
        hosts = {"before": (OLD, []), "step 1": (OLD, [NEW]), "step 2": (NEW, [OLD])}
        for stores, retries in (
            ("before", "step 1"),
            ("step 1", "before"),
            ("step 1", "step 2"),
            ("step 2", "step 1"),
        ):
            with self.subTest(stores=stores, retries=retries):
                IdempotencyKey.objects.all().delete()
                User.objects.all().delete()
                self.assertEqual(self.sign_up(*hosts[stores]).status_code, 201)
                self.assertEqual(self.sign_up(*hosts[retries]).status_code, 200)

    def test_a_host_that_never_knew_the_new_secret_answers_422(self):
        self.assertEqual(self.sign_up(NEW, [OLD]).status_code, 201)
        self.assertEqual(self.sign_up(OLD).status_code, 422)


class BareFingerprintMigrationTests(TransactionTestCase):
    """Rows stored before fingerprints were keyed lose their bare digest."""

    before = [("idempotency", "0001_idempotency_key")]
    after = [("idempotency", "0002_hmac_fingerprints")]

    def tearDown(self):
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )

    def test_the_migration_blanks_old_fingerprints_so_an_old_retry_is_422(self):
        executor = MigrationExecutor(connection)
        executor.migrate(self.before)
        old = executor.loader.project_state(self.before).apps.get_model(
            "idempotency", "IdempotencyKey"
        )
        now = timezone.now()
        old.objects.create(
            principal="anonymous",
            key="su",
            method="POST",
            path="/api/users/",
            fingerprint="a" * 64,
            state="completed",
            status_code=201,
            response_body=b"{}",
            content_type="application/json",
            expires_at=now + timezone.timedelta(hours=1),
        )
        executor = MigrationExecutor(connection)
        executor.migrate(self.after)
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        row = IdempotencyKey.objects.get()
        self.assertEqual(row.fingerprint, "")
        retry = APIClient().post(
            "/api/users/", SIGN_UP, format="json", headers=keyed("su")
        )
        self.assertEqual(retry.status_code, 422)
        self.assertEqual(retry.json()["code"], "idempotency_key_mismatch")
