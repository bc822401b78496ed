from django.test import TestCase

from idempotency.functions import idempotent
from idempotency.models import IdempotencyKey
from tests.factories import make_staff, make_user


@idempotent(key="{name}", scope="admin-test")
def greet(name):
    return {"greeting": f"hello {name}"}


class IdempotentCallAdminTests(TestCase):
    url = "/admin/consumers/idempotentcall/"

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(is_superuser=True)
        greet("ada")
        cls.call = IdempotencyKey.objects.get(key="ada")
        IdempotencyKey.objects.create(
            owner_id=1,
            key="http-key",
            method="POST",
            path="/api/orders/",
            fingerprint="0" * 64,
            state="completed",
            expires_at=cls.call.expires_at,
        )

    def setUp(self):
        self.client.force_login(self.staff)

    def test_lists_function_calls_only(self):
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        listed = [c.key for c in response.context["cl"].result_list]
        self.assertEqual(listed, ["ada"])
        self.assertContains(response, "admin-test")

    def test_detail_shows_the_result_and_nothing_can_change(self):
        base = f"{self.url}{self.call.pk}"
        detail = self.client.get(f"{base}/change/")
        self.assertEqual(detail.status_code, 200)
        self.assertContains(detail, "hello ada")
        self.assertNotContains(detail, 'name="_save"')
        with self.subTest("no add"):
            self.assertEqual(self.client.get(f"{self.url}add/").status_code, 403)
        with self.subTest("no delete"):
            self.assertEqual(self.client.get(f"{base}/delete/").status_code, 403)
        self.assertTrue(IdempotencyKey.objects.filter(pk=self.call.pk).exists())

    def test_only_staff_see_it(self):
        self.client.force_login(make_user())
        self.assertEqual(self.client.get(self.url).status_code, 302)
