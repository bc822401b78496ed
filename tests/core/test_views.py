from django.test import TestCase

from tests.factories import make_user, token_client


class NotFoundTests(TestCase):
    def test_an_unmatched_api_path_is_a_json_404(self):
        client = token_client(make_user())
        for path in ["/api/orders/0.5/", "/api/photos/1e-38/file/", "/api/nothing/"]:
            with self.subTest(path=path):
                response = client.get(path)
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertEqual(response.json()["code"], "not_found")

    def test_other_paths_keep_djangos_page(self):
        response = self.client.get("/nothing-here/")
        self.assertEqual(response.status_code, 404)
        self.assertTrue(response["Content-Type"].startswith("text/html"))
