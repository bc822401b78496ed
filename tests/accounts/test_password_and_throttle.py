from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.test import TestCase, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import make_user

TOKEN_URL = "/api/auth/token/"


class SignUpPasswordValidationTests(TestCase):
    def sign_up(self, password, **fields):
        body = {
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "password": password,
        }
        body.update(fields)
        return APIClient().post("/api/users/", body, format="json")

    def test_a_password_the_validators_refuse_is_400_on_password(self):
        cases = {
            "too short and numeric": "1",
            "common": "password123",
            "all digits": "73920148571",
            "like the e-mail": "ada@example.com",
            "like the name": "adalovelace",
        }
        for name, password in cases.items():
            with self.subTest(name):
                response = self.sign_up(password, client_id=name)
                self.assertEqual(response.status_code, 400, response.content)
                self.assertEqual(list(response.json()), ["password"])
                self.assertTrue(response.json()["password"])
        self.assertFalse(User.objects.exists())

    def test_a_password_they_accept_signs_up(self):
        self.assertEqual(self.sign_up("correct horse battery").status_code, 201)

    def test_a_refused_password_with_a_key_releases_the_key(self):
        first = APIClient().post(
            "/api/users/",
            {"email": "k@example.com", "name": "K", "password": "1"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="weak-then-strong",
        )
        self.assertEqual(first.status_code, 400)
        corrected = APIClient().post(
            "/api/users/",
            {
                "email": "k@example.com",
                "name": "K",
                "password": "correct horse battery",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="weak-then-strong",
        )
        self.assertEqual(corrected.status_code, 201, corrected.content)


@override_settings(AXES_FAILURE_LIMIT=4, AXES_COOLOFF_TIME=timedelta(minutes=1))
class LoginFailureLockoutTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user(email="ada@example.com", password="correct horse battery")

    def login(self, email, password, address="10.0.0.1", **headers):
        return APIClient(REMOTE_ADDR=address).post(
            TOKEN_URL, {"email": email, "password": password}, format="json", **headers
        )

    def test_failures_past_the_rate_are_429_with_retry_after(self):
        statuses = [
            self.login("ada@example.com", "wrong").status_code for _ in range(3)
        ]
        self.assertEqual(statuses, [400, 400, 400])
        response = self.login("ada@example.com", "wrong")
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.json()["code"], "throttled")
        self.assertEqual(response["Retry-After"], "60")

    def test_the_failures_are_counted_by_django_axes_per_address_alone(self):
        for email in ("ada@example.com", "nobody@example.com", "ADA@example.com"):
            self.login(email, "wrong", "10.0.0.5")
        self.assertEqual(
            sum(
                attempt.failures_since_start
                for attempt in AccessAttempt.objects.filter(ip_address="10.0.0.5")
            ),
            3,
        )
        self.assertEqual(
            self.login("x@example.com", "wrong", "10.0.0.5").status_code, 429
        )

    @override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1})
    def test_behind_num_proxies_the_forwarded_address_is_counted(self):
        for _ in range(3):
            self.login("ada@example.com", "wrong", HTTP_X_FORWARDED_FOR="192.0.2.7")
        self.assertEqual(
            self.login(
                "ada@example.com",
                "correct horse battery",
                HTTP_X_FORWARDED_FOR="192.0.2.8",
            ).status_code,
            200,
        )
        self.assertEqual(
            self.login(
                "ada@example.com", "wrong", HTTP_X_FORWARDED_FOR="192.0.2.7"
            ).status_code,
            429,
        )

    async def test_failures_are_counted_under_asgi_too(self):
        # The token view is exempt from the key layer, so under Django's ASGI
        # handler too it runs outside the layer's transaction, whose rollback
        # of a 400 would undo the count.
        client = self.async_client
        statuses = [
            (
                await client.post(
                    TOKEN_URL,
                    {"email": "ada@example.com", "password": "wrong"},
                    content_type="application/json",
                    REMOTE_ADDR="10.0.0.9",
                )
            ).status_code
            for _ in range(4)
        ]
        self.assertEqual(statuses, [400, 400, 400, 429])

    def test_a_known_and_an_unknown_e_mail_get_the_same_answers(self):
        answers = {}
        for email, address in (
            ("ada@example.com", "10.0.0.1"),
            ("nobody@example.com", "10.0.0.2"),
        ):
            replies = [self.login(email, "wrong", address) for _ in range(4)]
            answers[email] = [
                (r.status_code, r.json()["code"], r.has_header("Retry-After"))
                for r in replies
            ]
        self.assertEqual(answers["ada@example.com"], answers["nobody@example.com"])
        self.assertEqual(answers["ada@example.com"][-1], (429, "throttled", True))

    def test_a_locked_out_address_is_refused_even_the_right_password(self):
        for _ in range(4):
            self.login("nobody@example.com", "wrong")
        self.assertEqual(
            self.login("ada@example.com", "correct horse battery").status_code, 429
        )
        self.assertFalse(Token.objects.exists())

    def test_other_addresses_and_successes_are_not_counted(self):
        for _ in range(5):
            response = self.login("ada@example.com", "correct horse battery")
            self.assertEqual(response.status_code, 200)
        for _ in range(4):
            self.login("ada@example.com", "wrong", "10.0.0.1")
        self.assertEqual(
            self.login(
                "ada@example.com", "correct horse battery", "10.0.0.9"
            ).status_code,
            200,
        )

    def test_x_forwarded_for_does_not_change_the_address(self):
        for n in range(3):
            self.login("ada@example.com", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        response = self.login(
            "ada@example.com", "wrong", HTTP_X_FORWARDED_FOR="192.0.2.99"
        )
        self.assertEqual(response.status_code, 429)

    def test_the_failures_count_with_an_idempotency_key_too(self):
        for n in range(3):
            self.login("ada@example.com", "wrong", HTTP_IDEMPOTENCY_KEY=f"login-{n}")
        response = self.login(
            "ada@example.com", "wrong", HTTP_IDEMPOTENCY_KEY="login-3"
        )
        self.assertEqual(response.status_code, 429)
