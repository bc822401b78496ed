from django.test import TestCase
from rest_framework.authtoken.models import Token

from tests.factories import make_staff, make_user


class AccountsAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_user(is_staff=True, is_superuser=True)
        cls.ada = make_user(email="ada@example.com", password="pw-ada-secret")
        cls.token = Token.objects.create(user=cls.ada)

    def setUp(self):
        self.client.force_login(self.staff)

    def test_user_list_and_search_by_email(self):
        response = self.client.get("/admin/accounts/user/", {"q": "ada@"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "ada@example.com")

    def test_user_page_never_shows_the_password(self):
        response = self.client.get(f"/admin/accounts/user/{self.ada.pk}/change/")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "pw-ada-secret")
        self.assertNotContains(response, self.ada.password)

    def test_token_keys_are_nowhere_in_the_admin(self):
        self.assertEqual(
            self.client.get("/admin/authtoken/tokenproxy/").status_code, 404
        )
        for url in ("/admin/", f"/admin/accounts/user/{self.ada.pk}/change/"):
            with self.subTest(url=url):
                self.assertNotContains(self.client.get(url), self.token.key)

    def test_staff_without_superuser_rights_see_nothing_they_were_not_granted(self):
        self.client.force_login(make_staff())
        self.assertEqual(self.client.get("/admin/accounts/user/").status_code, 403)

    def test_non_staff_are_sent_to_the_login_page(self):
        self.client.force_login(self.ada)
        response = self.client.get("/admin/accounts/user/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/admin/login/", response["Location"])
