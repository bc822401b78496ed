from django.test import TestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_staff, make_user, token_client


class TokenTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user(email="Ada@Example.com", password="pw-secret-1")

    def test_right_credentials_give_200_and_a_token(self):
        response = APIClient().post(
            "/api/auth/token/",
            {"email": "ada@example.com", "password": "pw-secret-1"},
            format="json",
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(), {"token": Token.objects.get(user=self.user).key}
        )

    def test_the_token_authenticates(self):
        key = (
            APIClient()
            .post(
                "/api/auth/token/",
                {"email": "Ada@Example.com", "password": "pw-secret-1"},
                format="json",
            )
            .json()["token"]
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        self.assertEqual(client.get(f"/api/users/{self.user.pk}/").status_code, 200)

    def test_wrong_credentials_give_400(self):
        cases = [
            {"email": "ada@example.com", "password": "wrong"},
            {"email": "nobody@example.com", "password": "pw-secret-1"},
            {"email": "ada@example.com"},
            {},
        ]
        for body in cases:
            with self.subTest(body=body):
                response = APIClient().post("/api/auth/token/", body, format="json")
                self.assertEqual(response.status_code, 400)
        self.assertFalse(Token.objects.exists())

    def test_inactive_user_gets_no_token(self):
        make_user(email="gone@example.com", password="pw-secret-2", is_active=False)
        response = APIClient().post(
            "/api/auth/token/",
            {"email": "gone@example.com", "password": "pw-secret-2"},
            format="json",
        )
        self.assertEqual(response.status_code, 400)


class UserVisibilityTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.ada = make_user()
        cls.bob = make_user()
        cls.staff = make_staff()

    def test_anonymous_is_401_with_token_challenge(self):
        for url in ("/api/users/", f"/api/users/{self.ada.pk}/"):
            with self.subTest(url=url):
                response = APIClient().get(url)
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response["WWW-Authenticate"], "Token")
                self.assertEqual(response.json()["code"], "not_authenticated")

    def test_bad_token_is_401(self):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token nope")
        response = client.get("/api/users/")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["WWW-Authenticate"], "Token")

    def test_a_user_sees_only_themself(self):
        client = token_client(self.ada)
        ids = [row["id"] for row in client.get("/api/users/").json()["results"]]
        self.assertEqual(ids, [self.ada.pk])
        self.assertEqual(client.get(f"/api/users/{self.bob.pk}/").status_code, 404)
        self.assertEqual(
            client.get(f"/api/users/{self.ada.pk}/").json()["email"], self.ada.email
        )

    def test_staff_see_everyone(self):
        client = token_client(self.staff)
        ids = {row["id"] for row in client.get("/api/users/").json()["results"]}
        self.assertEqual(ids, {self.ada.pk, self.bob.pk, self.staff.pk})
        self.assertEqual(client.get(f"/api/users/{self.bob.pk}/").status_code, 200)

    def test_user_bodies_never_carry_the_password(self):
        body = token_client(self.staff).get("/api/users/").content.decode()
        self.assertNotIn("password", body)
        self.assertNotIn("pbkdf2", body)
