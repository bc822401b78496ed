"""Which views the layer's transaction governs: DRF views under its prefixes and views that opt in."""

from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from idempotency.models import IdempotencyKey
from tests.idempotency.helpers import TEST_URLS, counts, keyed


@override_settings(ROOT_URLCONF=TEST_URLS)
class PlainDjangoViewTests(TestCase):
    def test_a_plain_view_under_the_prefixes_keeps_its_write_on_a_redirect(self):
        response = APIClient().post("/api/plain/", {"name": "a"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(counts(), (1, 0))

    def test_a_plain_view_keeps_its_write_on_a_4xx_and_ignores_the_key(self):
        for expected in (1, 2):
            response = APIClient().post("/api/plain/?fail", {}, headers=keyed("k"))
            self.assertEqual(response.status_code, 400)
            self.assertEqual(counts(), (expected, 0))


@override_settings(ROOT_URLCONF=TEST_URLS)
class RedirectTests(TestCase):
    def test_an_unkeyed_redirect_keeps_its_work(self):
        response = APIClient().post("/api/redirect/", {}, format="json")
        self.assertEqual(response.status_code, 303)
        self.assertEqual(counts(), (1, 0))

    def test_a_keyed_redirect_keeps_its_work_and_releases_the_key(self):
        for expected in (1, 2):
            response = APIClient().post(
                "/api/redirect/", {}, format="json", headers=keyed("k")
            )
            self.assertEqual(response.status_code, 303)
            self.assertNotIn("Idempotent-Replayed", response)
            self.assertEqual(counts(), (expected, 0))


@override_settings(ROOT_URLCONF=TEST_URLS)
class OptInTests(TestCase):
    def test_a_plain_view_that_opted_in_is_recorded_and_replayed(self):
        client = APIClient()
        first = client.post("/elsewhere/opted/", {"name": "a"}, headers=keyed("k"))
        again = client.post("/elsewhere/opted/", {"name": "a"}, headers=keyed("k"))
        other = client.post("/elsewhere/opted/", {"name": "b"}, headers=keyed("k"))
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(again.content, first.content)
        self.assertEqual(again["Idempotent-Replayed"], "true")
        self.assertEqual(other.status_code, 422)
        self.assertEqual(other.json()["code"], "idempotency_key_mismatch")
        self.assertEqual(counts(), (1, 1))

    def test_a_plain_view_that_opted_in_is_rolled_back_on_a_4xx(self):
        response = APIClient().post("/elsewhere/opted/", {"fail": "1"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(counts(), (0, 0))

    def test_a_plain_view_that_opted_in_answers_an_invalid_key_with_its_code(self):
        response = APIClient().post("/elsewhere/opted/", {}, headers=keyed("a\tb"))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["code"], "idempotency_key_invalid")
        self.assertEqual(counts(), (0, 0))

    def test_a_drf_view_that_opted_in_outside_the_prefixes_is_replayed(self):
        client = APIClient()
        first = client.post(
            "/elsewhere/opted-drf/", {"name": "a"}, format="json", headers=keyed("k")
        )
        again = client.post(
            "/elsewhere/opted-drf/", {"name": "a"}, format="json", headers=keyed("k")
        )
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(again.content, first.content)
        self.assertEqual(IdempotencyKey.objects.count(), 1)
