import re
from uuid import uuid4

from django.test import SimpleTestCase, TestCase, override_settings
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from idempotency.fingerprint import InvalidKey, parse_key
from tests.core import schema_views

UNSAFE = {"post", "put", "patch", "delete"}


def served_schema():
    response = APIClient().get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    return response.status_code, response.json()


# Their answers hold a secret (a token, an endpoint's signing secret), which
# no stored reply may hold: they are exempt from the key layer.
OUTSIDE_THE_LAYER = {
    "/api/auth/token/",
    "/api/webhook-endpoints/",
    "/api/webhook-endpoints/{id}/",
}


def operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def header(operation, name):
    found = [
        p
        for p in operation.get("parameters", [])
        if p["in"] == "header" and p["name"] == name
    ]
    return found[0] if found else None


class SchemaTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.status_code, cls.schema = served_schema()

    def keyed(self):
        return [
            (path, method, op)
            for path, method, op in operations(self.schema)
            if method in UNSAFE and path not in OUTSIDE_THE_LAYER
        ]

    def test_the_schema_is_served_and_valid_openapi(self):
        self.assertEqual(self.status_code, 200)
        self.assertTrue(self.schema["openapi"].startswith("3."))
        validate_schema(self.schema)

    def test_every_unsafe_operation_documents_the_header_and_its_answers(self):
        self.assertGreaterEqual(len(self.keyed()), 5)
        for path, method, operation in self.keyed():
            with self.subTest(path=path, method=method):
                key = header(operation, "Idempotency-Key")
                self.assertFalse(key["required"])
                self.assertIn("pattern", key["schema"])
                # The alias is described, not a parameter of its own: a schema
                # cannot say that both headers, when sent, must be equal.
                self.assertIn("`X-Idempotency-Key`", key["description"])
                self.assertIsNone(header(operation, "X-Idempotency-Key"))
                responses = operation["responses"]
                self.assertIn(
                    "idempotency_key_invalid", responses["400"]["description"]
                )
                self.assertNotIn(
                    "idempotency_key_required", responses["400"]["description"]
                )
                self.assertIn("idempotency_key_in_use", responses["409"]["description"])
                self.assertIn("Retry-After", responses["409"]["headers"])
                self.assertIn(
                    "idempotency_key_mismatch", responses["422"]["description"]
                )
                successes = [code for code in responses if code.startswith("2")]
                self.assertIn("200", successes)
                for code in successes:
                    self.assertIn("Idempotent-Replayed", responses[code]["headers"])

    def test_the_key_pattern_accepts_exactly_the_keys_the_layer_accepts(self):
        [(_, _, operation), *_] = self.keyed()
        pattern = header(operation, "Idempotency-Key")["schema"]["pattern"]
        samples = [
            "a",
            "0",
            "abc-123_~!",
            "a" * 255,
            "a" * 256,
            '"abc"',
            '"' + "a" * 255 + '"',
            '"' + "a" * 256 + '"',
            'a"b',
            '"',
            '""',
            '"abc',
            'abc"',
            '"a"b"',
            '"a\\b"',
            "",
            "a b",
            "caf\u00e9",
            "tab\there",
            str(uuid4()),
        ]
        for sample in samples:
            with self.subTest(sample=sample):
                try:
                    parse_key(sample)
                    accepted = True
                except InvalidKey:
                    accepted = False
                self.assertEqual(bool(re.search(pattern, sample)), accepted)

    def test_the_description_states_the_default_lifetime_and_wait(self):
        key = header(self.schema["paths"]["/api/orders/"]["post"], "Idempotency-Key")
        self.assertIn("86400 seconds", key["description"])
        self.assertIn("up to 2 seconds", key["description"])

    def test_the_upload_path_and_the_create_endpoints_are_covered(self):
        for path in ["/upload", "/api/users/", "/api/orders/", "/api/photos/"]:
            with self.subTest(path=path):
                post = self.schema["paths"][path]["post"]
                self.assertIsNotNone(header(post, "Idempotency-Key"))

    def test_a_created_reply_documents_its_replay_as_200(self):
        responses = self.schema["paths"]["/api/users/"]["post"]["responses"]
        self.assertIn("201", responses)
        self.assertIn("200", responses)

    def test_errors_share_one_component(self):
        component = self.schema["components"]["schemas"]["Error"]
        self.assertEqual(set(component["properties"]), {"detail", "code"})
        self.assertEqual(set(component["required"]), {"detail", "code"})

    def test_the_token_endpoint_and_safe_operations_do_not_take_a_key(self):
        token = self.schema["paths"]["/api/auth/token/"]["post"]
        self.assertIsNone(header(token, "Idempotency-Key"))
        self.assertNotIn("409", token["responses"])
        for path, method, operation in operations(self.schema):
            if method not in UNSAFE:
                with self.subTest(path=path, method=method):
                    self.assertIsNone(header(operation, "Idempotency-Key"))
                    self.assertIsNone(header(operation, "X-Idempotency-Key"))


class RequiredKeySchemaTests(TestCase):
    @override_settings(IDEMPOTENCY={"REQUIRED_PATH_PREFIXES": ("/api/orders/",)})
    def test_the_header_is_required_exactly_under_the_required_prefixes(self):
        _, schema = served_schema()
        keyed = [
            (path, method, op)
            for path, method, op in operations(schema)
            if header(op, "Idempotency-Key")
        ]
        self.assertTrue(any(path.startswith("/api/orders/") for path, _, _ in keyed))
        for path, method, operation in keyed:
            with self.subTest(path=path, method=method):
                required = path.startswith("/api/orders/")
                key = header(operation, "Idempotency-Key")
                self.assertIs(key["required"], required)
                description = operation["responses"]["400"]["description"]
                self.assertIs("idempotency_key_required" in description, required)


class ViewOptionSchemaTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schema = schema_views.schema()

    def test_a_view_that_requires_a_key_marks_the_header_required(self):
        operation = self.schema["paths"]["/api/required/"]["post"]
        self.assertTrue(header(operation, "Idempotency-Key")["required"])
        self.assertIn(
            "idempotency_key_required", operation["responses"]["400"]["description"]
        )
        other = self.schema["paths"]["/api/batch/"]["post"]
        self.assertFalse(header(other, "Idempotency-Key")["required"])

    def test_the_description_states_the_views_lifetime_and_wait(self):
        operation = self.schema["paths"]["/api/required/"]["post"]
        description = header(operation, "Idempotency-Key")["description"]
        self.assertIn("600 seconds", description)
        self.assertIn("up to 0.5 seconds", description)

    def test_an_exempt_view_documents_no_key(self):
        operation = self.schema["paths"]["/api/exempt/"]["post"]
        self.assertIsNone(header(operation, "Idempotency-Key"))
        self.assertNotIn("422", operation["responses"])


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
