from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from idempotency.models import IdempotencyKey
from tests.idempotency.helpers import TEST_URLS, counts, keyed

REQUIRED = {
    "detail": "This operation requires an Idempotency-Key header.",
    "code": "idempotency_key_required",
}


@override_settings(ROOT_URLCONF=TEST_URLS)
class RequiredKeyTests(TestCase):
    def post(self, path, headers=None):
        return APIClient().post(path, {"name": "a"}, format="json", headers=headers)

    def test_a_view_that_requires_a_key_refuses_a_request_without_one(self):
        response = self.post("/api/required/")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json(), REQUIRED)
        self.assertEqual(counts(), (0, 0))

    def test_with_a_key_it_runs_and_replays(self):
        first = self.post("/api/required/", keyed("k"))
        again = self.post("/api/required/", keyed("k"))
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(counts(), (1, 1))

    def test_an_invalid_key_is_still_invalid_not_missing(self):
        response = self.post("/api/required/", keyed("bad key"))
        self.assertEqual(response.json()["code"], "idempotency_key_invalid")

    def test_other_views_take_requests_without_a_key(self):
        self.assertEqual(self.post("/api/things/").status_code, 201)

    def test_path_prefixes_from_the_settings_require_a_key(self):
        with self.settings(IDEMPOTENCY={"REQUIRED_PATH_PREFIXES": ["/api/thi"]}):
            refused = self.post("/api/things/")
            taken = self.post("/api/things/", keyed("k"))
            elsewhere = self.post("/api/private/")
        self.assertEqual((refused.status_code, refused.json()), (400, REQUIRED))
        self.assertEqual(taken.status_code, 201)
        self.assertEqual(elsewhere.status_code, 401)
        self.assertEqual(counts(), (1, 1))

    def test_a_required_key_does_not_apply_to_safe_methods_or_405(self):
        with self.settings(IDEMPOTENCY={"REQUIRED_PATH_PREFIXES": ["/api/"]}):
            self.assertEqual(APIClient().get("/api/things/").status_code, 405)
            self.assertEqual(
                APIClient().post("/api/secret/", {}, format="json").status_code, 200
            )

    def test_no_key_is_required_by_default(self):
        with self.settings(IDEMPOTENCY={}):
            self.assertEqual(self.post("/api/things/").status_code, 201)


class RequiredKeyProjectTests(TestCase):
    def test_the_project_reads_the_required_prefixes_from_its_settings(self):
        with self.settings(IDEMPOTENCY={"REQUIRED_PATH_PREFIXES": ["/api/users/"]}):
            response = APIClient().post(
                "/api/users/",
                {
                    "email": "ada@example.com",
                    "name": "Ada",
                    "password": "correct horse",
                },
                format="json",
            )
        self.assertEqual((response.status_code, response.json()), (400, REQUIRED))


@override_settings(ROOT_URLCONF=TEST_URLS)
class PerViewTtlTests(TestCase):
    def test_a_view_sets_its_own_key_lifetime(self):
        for path, key in [("/api/short/", "short"), ("/api/things/", "default")]:
            response = APIClient().post(
                path, {"name": "a"}, format="json", headers=keyed(key)
            )
            self.assertEqual(response.status_code, 201)
        lifetimes = {
            row.key: (row.expires_at - row.created_at).total_seconds()
            for row in IdempotencyKey.objects.all()
        }
        self.assertEqual(lifetimes, {"short": 60, "default": 86400})
