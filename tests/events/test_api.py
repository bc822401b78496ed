from django.test import TestCase, override_settings

from events.models import WebhookEndpoint
from idempotency.models import IdempotencyKey
from tests.factories import make_staff, make_user, token_client

URL = "/api/webhook-endpoints/"
PUBLIC = "http://93.184.216.34/hook"


class WebhookEndpointAPITests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff()

    def setUp(self):
        self.client = token_client(self.staff)

    def create(self, body, **headers):
        return self.client.post(URL, body, format="json", headers=headers)

    def test_staff_create_an_endpoint_and_see_its_secret_once(self):
        response = self.create({"url": PUBLIC, "events": ["order.completed"]})
        self.assertEqual(response.status_code, 201)
        body = response.json()
        endpoint = WebhookEndpoint.objects.get()
        self.assertEqual(body["secret"], endpoint.secret)
        self.assertEqual(
            (body["url"], body["events"], body["enabled"]),
            (PUBLIC, ["order.completed"], True),
        )
        for path in (URL, f"{URL}{endpoint.pk}/"):
            with self.subTest(path=path):
                read = self.client.get(path)
                self.assertEqual(read.status_code, 200)
                self.assertNotIn(endpoint.secret, read.content.decode())

    def test_the_create_is_outside_the_key_layer(self):
        response = self.create(
            {"url": PUBLIC, "events": ["*"]}, **{"Idempotency-Key": "k-1"}
        )
        self.assertEqual(response.status_code, 201)
        self.assertFalse(IdempotencyKey.objects.exists())
        self.assertNotIn(
            response.json()["secret"], str(list(IdempotencyKey.objects.values()))
        )

    def test_patch_changes_url_events_or_enabled_and_delete_removes(self):
        endpoint = WebhookEndpoint.objects.create(url=PUBLIC, events=["*"])
        response = self.client.patch(
            f"{URL}{endpoint.pk}/",
            {"enabled": False, "events": ["user.created"]},
            format="json",
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            (response.json()["enabled"], response.json()["events"]),
            (False, ["user.created"]),
        )
        self.assertEqual(self.client.delete(f"{URL}{endpoint.pk}/").status_code, 204)
        self.assertFalse(WebhookEndpoint.objects.exists())

    def test_urls_that_are_not_public_http_are_400_on_url(self):
        for url in (
            "ftp://93.184.216.34/x",
            "http://127.0.0.1:8000/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0/hook",
            "http://no-such-host.invalid/hook",
        ):
            with self.subTest(url=url):
                response = self.create({"url": url, "events": ["*"]})
                self.assertEqual(response.status_code, 400)
                self.assertIn("url", response.json())
        self.assertFalse(WebhookEndpoint.objects.exists())

    @override_settings(EVENTS={"WEBHOOK_ALLOW_PRIVATE": True})
    def test_private_urls_are_allowed_with_webhook_allow_private(self):
        self.assertEqual(
            self.create(
                {"url": "http://127.0.0.1:8000/h", "events": ["*"]}
            ).status_code,
            201,
        )

    def test_bad_event_lists_are_400_on_events(self):
        for events in (
            [],
            ["order.shipped"],
            ["*", "user.created"],
            "user.created",
            None,
        ):
            with self.subTest(events=events):
                response = self.create({"url": PUBLIC, "events": events})
                self.assertEqual(response.status_code, 400)
                self.assertIn("events", response.json())

    def test_other_users_are_403_and_anonymous_401(self):
        other = token_client(make_user())
        self.assertEqual(other.get(URL).status_code, 403)
        self.assertEqual(
            other.post(
                URL, {"url": PUBLIC, "events": ["*"]}, format="json"
            ).status_code,
            403,
        )
        from rest_framework.test import APIClient

        self.assertEqual(APIClient().get(URL).status_code, 401)
        self.assertFalse(WebhookEndpoint.objects.exists())


class WebhookEndpointSchemaTests(TestCase):
    def test_the_operations_are_documented_with_403_and_the_secret_only_on_create(self):
        from tests.core.test_schema import served_schema

        schema = served_schema()
        paths = schema["paths"]
        self.assertEqual(set(paths[URL]), {"get", "post"})
        self.assertEqual(set(paths[URL + "{id}/"]), {"get", "patch", "delete"})
        for operations in (paths[URL], paths[URL + "{id}/"]):
            for method, operation in operations.items():
                with self.subTest(method=method):
                    self.assertIn("403", operation["responses"])
        created = paths[URL]["post"]["responses"]["201"]["content"]["application/json"][
            "schema"
        ]["$ref"]
        listed = paths[URL + "{id}/"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]["$ref"]
        components = schema["components"]["schemas"]
        self.assertIn("secret", components[created.rpartition("/")[2]]["properties"])
        self.assertNotIn("secret", components[listed.rpartition("/")[2]]["properties"])
