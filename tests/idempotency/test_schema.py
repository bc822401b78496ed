import re

from django.test import TestCase
from rest_framework.test import APIClient

UNSAFE = {"post", "put", "patch", "delete"}


class SchemaTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        response = APIClient().get(
            "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
        )
        cls.status_code = response.status_code
        cls.schema = response.json()

    def operations(self):
        for path, operations in self.schema["paths"].items():
            for method, operation in operations.items():
                yield path, method, operation

    def key_parameters(self, operation):
        return [
            p
            for p in operation.get("parameters", [])
            if p["in"] == "header" and p["name"] == "Idempotency-Key"
        ]

    def test_the_schema_is_served(self):
        self.assertEqual(self.status_code, 200)
        self.assertTrue(self.schema["openapi"].startswith("3."))

    def test_every_unsafe_operation_documents_the_header_and_its_answers(self):
        unsafe = [
            (path, method, op)
            for path, method, op in self.operations()
            if method in UNSAFE and path != "/api/auth/token/"
        ]
        self.assertGreaterEqual(len(unsafe), 5)
        for path, method, operation in unsafe:
            with self.subTest(path=path, method=method):
                [parameter] = self.key_parameters(operation)
                self.assertFalse(parameter["required"])
                self.assertEqual(parameter["schema"]["maxLength"], 255)
                self.assertEqual(parameter["schema"]["minLength"], 1)
                self.assertIn("X-Idempotency-Key", parameter["description"])
                responses = operation["responses"]
                self.assertIn(
                    "idempotency_key_invalid", responses["400"]["description"]
                )
                self.assertIn("idempotency_key_in_use", responses["409"]["description"])
                self.assertIn(
                    "idempotency_key_mismatch", responses["422"]["description"]
                )
                successes = [code for code in responses if code.startswith("2")]
                self.assertIn("200", successes)
                for code in successes:
                    self.assertIn("Idempotent-Replayed", responses[code]["headers"])

    def test_the_upload_path_and_the_create_endpoints_are_covered(self):
        for path in ["/upload", "/api/users/", "/api/orders/", "/api/photos/"]:
            with self.subTest(path=path):
                self.assertTrue(self.key_parameters(self.schema["paths"][path]["post"]))

    def test_a_created_reply_documents_its_replay_as_200(self):
        responses = self.schema["paths"]["/api/users/"]["post"]["responses"]
        self.assertIn("201", responses)
        self.assertIn("200", responses)

    def test_errors_share_one_component(self):
        component = self.schema["components"]["schemas"]["IdempotencyError"]
        self.assertEqual(set(component["properties"]), {"detail", "code"})

    def test_the_token_endpoint_and_safe_operations_do_not_take_a_key(self):
        token = self.schema["paths"]["/api/auth/token/"]["post"]
        self.assertEqual(self.key_parameters(token), [])
        self.assertNotIn("409", token["responses"])
        for path, method, operation in self.operations():
            if method not in UNSAFE:
                with self.subTest(path=path, method=method):
                    self.assertEqual(self.key_parameters(operation), [])


class SwaggerUiTests(TestCase):
    def test_docs_serve_every_asset_from_the_project(self):
        client = APIClient()
        response = client.get("/api/docs/")
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        self.assertNotRegex(page, r"https?://")
        self.assertNotRegex(page, r'(?:src|href)=["\']//')
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        self.assertGreaterEqual(len(assets), 3)
        for asset in assets:
            with self.subTest(asset=asset):
                self.assertTrue(asset.startswith("/static/"), asset)
                served = client.get(asset)
                self.assertEqual(served.status_code, 200)
                body = (
                    b"".join(served.streaming_content)
                    if served.streaming
                    else served.content
                )
                self.assertTrue(body)

    def test_docs_point_at_the_local_schema(self):
        page = APIClient().get("/api/docs/").content.decode()
        self.assertIn('"/api/schema/"', page)
