import json
import os
from unittest import mock

from django.core import mail
from django.core.management import call_command
from django.test import TestCase, TransactionTestCase
from rest_framework.test import APIClient

from accounts.models import User
from outbox.models import OutboxMessage
from tests.concurrency import needs_postgresql, run_together
from tests.factories import make_user


def sign_up(client: APIClient, **overrides):
    body = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
    body.update(overrides)
    return client.post("/api/users/", body, format="json")


class SignUpTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def test_new_user_is_201_with_location_and_no_password(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = sign_up(self.client, client_id="c-1")
        self.assertEqual(response.status_code, 201)
        user = User.objects.get()
        self.assertEqual(
            response.json(),
            {
                "id": user.pk,
                "email": "ada@example.com",
                "name": "Ada",
                "client_id": "c-1",
            },
        )
        self.assertTrue(response["Location"].endswith(f"/api/users/{user.pk}/"))
        self.assertNotIn("correct horse", response.content.decode())
        self.assertTrue(user.check_password("correct horse"))

    def test_client_id_is_optional_and_null_when_absent(self):
        response = sign_up(self.client)
        self.assertEqual(response.status_code, 201)
        self.assertIsNone(response.json()["client_id"])

    def test_same_client_id_same_email_and_name_is_200_with_the_same_user(self):
        first = sign_up(self.client, client_id="c-1")
        again = sign_up(self.client, client_id="c-1")
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json(), first.json())
        self.assertEqual(User.objects.count(), 1)

    def test_retry_compares_email_without_case(self):
        first = sign_up(self.client, client_id="c-1")
        again = sign_up(self.client, client_id="c-1", email="ADA@example.com")
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["id"], first.json()["id"])

    def test_same_client_id_other_email_or_name_is_422_and_changes_nothing(self):
        sign_up(self.client, client_id="c-1")
        for change in ({"email": "bob@example.com"}, {"name": "Bob"}):
            with self.subTest(change=change):
                response = sign_up(self.client, client_id="c-1", **change)
                self.assertEqual(response.status_code, 422)
                self.assertEqual(response.json()["code"], "client_id_mismatch")
        self.assertEqual(
            list(User.objects.values_list("email", "name")),
            [("ada@example.com", "Ada")],
        )

    def test_email_taken_is_400_on_the_email_field_whatever_the_case(self):
        sign_up(self.client, client_id="c-1")
        cases = [
            {},
            {"email": "ADA@EXAMPLE.COM"},
            {"email": "Ada@example.com", "client_id": "c-2"},
        ]
        for overrides in cases:
            with self.subTest(overrides=overrides):
                response = sign_up(self.client, **overrides)
                self.assertEqual(response.status_code, 400)
                self.assertIn("email", response.json())
        self.assertEqual(User.objects.count(), 1)

    def test_email_unique_index_ignores_case_in_the_database(self):
        make_user(email="Case@Example.com")
        from django.db import IntegrityError, transaction

        with self.assertRaises(IntegrityError), transaction.atomic():
            User.objects.create(email="case@example.com")

    def test_client_id_is_unique_among_users(self):
        sign_up(self.client, client_id="shared")
        response = sign_up(
            self.client, client_id="shared", email="eve@example.com", name="Eve"
        )
        self.assertEqual(response.status_code, 422)
        self.assertEqual(User.objects.count(), 1)


class WelcomeEmailTests(TestCase):
    """The welcome e-mail is an outbox message; docs/outbox.md tells how it is sent."""

    def setUp(self):
        self.client = APIClient()

    def test_one_welcome_message_whatever_the_number_of_retries(self):
        for _ in range(3):
            with self.captureOnCommitCallbacks(execute=True):
                sign_up(self.client, client_id="c-1")
        message = OutboxMessage.objects.get()
        user = User.objects.get()
        self.assertEqual(message.topic, "mail.welcome")
        self.assertEqual(message.dedupe_key, f"welcome:{user.pk}")
        self.assertEqual(message.payload["to"], ["ada@example.com"])
        self.assertEqual(message.payload["subject"], "Welcome to Idem")
        self.assertNotIn("correct horse", str(message.payload))

    def test_welcome_message_commits_with_the_user_and_nothing_is_sent_in_the_request(
        self,
    ):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = sign_up(self.client)
        self.assertEqual(response.status_code, 201)
        self.assertEqual(OutboxMessage.objects.get().state, "pending")
        # The only thing left for after the commit is the hand-over to the broker.
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(callbacks[0].func.__name__, "message_hand_over")
        self.assertEqual(len(mail.outbox), 0)

    def test_failed_sign_up_writes_no_message(self):
        make_user(email="ada@example.com")
        with self.captureOnCommitCallbacks(execute=True):
            response = sign_up(self.client)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(OutboxMessage.objects.exists())


class SignUpBadInputTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def test_each_bad_body_is_400_with_field_errors_and_creates_nothing(self):
        cases = {
            "missing email": ({"name": "A", "password": "pw-secret"}, "email"),
            "null email": (
                {"email": None, "name": "A", "password": "pw-secret"},
                "email",
            ),
            "not an email": (
                {"email": "nope", "name": "A", "password": "pw-secret"},
                "email",
            ),
            "missing password": ({"email": "a@example.com", "name": "A"}, "password"),
            "list name": (
                {"email": "a@example.com", "name": ["A"], "password": "x"},
                "name",
            ),
            "long client_id": (
                {
                    "email": "a@example.com",
                    "name": "A",
                    "password": "correct horse battery",
                    "client_id": "x" * 129,
                },
                "client_id",
            ),
            "empty client_id": (
                {
                    "email": "a@example.com",
                    "name": "A",
                    "password": "correct horse battery",
                    "client_id": "",
                },
                "client_id",
            ),
            "NUL in name": (
                {
                    "email": "a@example.com",
                    "name": "a\x00b",
                    "password": "correct horse battery",
                },
                "name",
            ),
        }
        for label, (body, field) in cases.items():
            with self.subTest(label):
                response = self.client.post("/api/users/", body, format="json")
                self.assertEqual(response.status_code, 400)
                self.assertIn(field, response.json())
        self.assertEqual(User.objects.count(), 0)

    def test_malformed_json_and_non_objects_are_400(self):
        for raw in (b"{not json", b"[1, 2]", b'"text"', b"null"):
            with self.subTest(raw=raw):
                response = self.client.post(
                    "/api/users/", raw, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("detail", response.json() | {"detail": None})
        self.assertEqual(User.objects.count(), 0)

    def test_unknown_content_type_is_415(self):
        response = self.client.post(
            "/api/users/", b"<a/>", content_type="application/xml"
        )
        self.assertEqual(response.status_code, 415)
        self.assertEqual(response.json()["code"], "unsupported_media_type")

    def test_body_over_2_mib_is_413(self):
        body = json.dumps(
            {
                "email": "a@example.com",
                "name": "x" * (2 * 1024 * 1024),
                "password": "correct horse battery",
            }
        )
        response = self.client.post(
            "/api/users/", body, content_type="application/json"
        )
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["code"], "payload_too_large")
        self.assertEqual(User.objects.count(), 0)

    def test_odd_unicode_is_kept_exactly(self):
        name = "Zo\u00eb \U0001f984 \u202e \U0001d518 \u0645\u0631\u062d\u0628\u0627"
        response = sign_up(self.client, name=name, client_id="🦄/../x")
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["name"], name)
        self.assertEqual(response.json()["client_id"], "🦄/../x")


class CreateSuperuserTests(TestCase):
    def test_createsuperuser_noinput_reads_email_and_password_from_the_environment(
        self,
    ):
        env = {
            "DJANGO_SUPERUSER_EMAIL": "root@example.com",
            "DJANGO_SUPERUSER_PASSWORD": "pw-root-secret",
        }
        with mock.patch.dict(os.environ, env):
            call_command("createsuperuser", "--noinput", verbosity=0)
        user = User.objects.get()
        self.assertTrue(user.is_staff and user.is_superuser)
        self.assertTrue(user.check_password("pw-root-secret"))


@needs_postgresql
class SignUpRaceTests(TransactionTestCase):
    def post(self, body):
        def call():
            return APIClient().post("/api/users/", body, format="json").status_code

        return call

    def test_concurrent_identical_sign_ups_make_one_user_and_one_email(self):
        body = {
            "email": "race@example.com",
            "name": "R",
            "password": "correct horse battery",
            "client_id": "c-race",
        }
        statuses = run_together(self.post(body), threads=16)
        self.assertEqual(sorted(statuses), [200] * 15 + [201])
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(OutboxMessage.objects.count(), 1)

    def test_concurrent_sign_ups_with_one_email_and_no_client_id_make_one_user(self):
        body = {
            "email": "race@example.com",
            "name": "R",
            "password": "correct horse battery",
        }
        statuses = run_together(self.post(body), threads=16)
        self.assertEqual(sorted(statuses), [201] + [400] * 15)
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(OutboxMessage.objects.count(), 1)
