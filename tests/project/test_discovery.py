import re

from django.test import TestCase
from rest_framework.test import APIClient

from tests.factories import make_user


class DiscoveryTests(TestCase):
    def test_api_root_is_open_to_anyone_and_lists_the_resources(self):
        response = APIClient().get("/api/", HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            set(response.json()), {"users", "photos", "orders", "webhook-endpoints"}
        )

    def test_api_root_in_a_browser_is_the_browsable_api_with_a_login_link(self):
        response = APIClient().get("/api/", HTTP_ACCEPT="text/html")
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/html", response["Content-Type"])
        self.assertRegex(
            response.content.decode(), r"href=['\"]/api-auth/login/\?next=/api/['\"]"
        )

    def test_schema_is_openapi_3(self):
        response = APIClient().get(
            "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
        )
        self.assertEqual(response.status_code, 200)
        schema = response.json()
        self.assertTrue(schema["openapi"].startswith("3."))
        self.assertIn("/api/orders/", schema["paths"])

    def test_swagger_ui_serves_every_asset_itself(self):
        client = APIClient()
        page = client.get("/api/docs/").content.decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        self.assertTrue(assets)
        self.assertNotRegex(page, r'(?:src|href)="(?:https?:)?//')
        for asset in assets:
            with self.subTest(asset=asset):
                self.assertTrue(asset.startswith("/static/"), asset)
                response = client.get(asset)
                self.assertEqual(response.status_code, 200)

    def test_admin_login_page_renders(self):
        response = APIClient().get("/admin/login/")
        self.assertEqual(response.status_code, 200)

    def test_admin_is_staff_only(self):
        client = APIClient()
        client.force_login(make_user())
        response = client.get("/admin/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/admin/login/", response["Location"])
