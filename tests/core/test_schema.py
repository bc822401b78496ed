import os

import jsonschema
from django.core.management import call_command
from django.test import SimpleTestCase, TestCase
from rest_framework.test import APIClient

from tests.core import schema_views
from tests.factories import make_user, token_client

UNSAFE = {"post", "put", "patch", "delete"}


def served_schema():
    return (
        APIClient()
        .get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        .json()
    )


def operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def assert_matches(schema, reference, body):
    """Validate ``body`` against ``reference`` (a schema, perhaps a $ref) of ``schema``."""
    jsonschema.validate(body, {**reference, "components": schema["components"]})


class GeneralAnswerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.schema = served_schema()

    def test_the_schema_generates_without_warnings(self):
        call_command(
            "spectacular", "--fail-on-warn", "--validate", "--file", os.devnull
        )

    def test_only_api_paths_are_operations(self):
        for path in self.schema["paths"]:
            with self.subTest(path=path):
                self.assertTrue(path.startswith("/api/") or path == "/upload")

    def test_every_operation_documents_503_with_retry_after_and_never_500(self):
        for path, method, operation in operations(self.schema):
            with self.subTest(path=path, method=method):
                responses = operation["responses"]
                self.assertIn("service_unavailable", responses["503"]["description"])
                self.assertTrue(responses["503"]["headers"]["Retry-After"]["required"])
                self.assertNotIn("500", responses)

    def test_authenticated_operations_document_401_with_www_authenticate(self):
        for path, method, operation in operations(self.schema):
            if path in {"/api/auth/token/", "/api/webhooks/payments/"}:
                continue
            with self.subTest(path=path, method=method):
                answer = operation["responses"]["401"]
                self.assertTrue(answer["headers"]["WWW-Authenticate"]["required"])

    def test_the_token_endpoint_has_no_401_and_the_webhook_its_own(self):
        token = self.schema["paths"]["/api/auth/token/"]["post"]["responses"]
        self.assertNotIn("401", token)
        self.assertIn("invalid_credentials", token["400"]["description"])
        webhook = self.schema["paths"]["/api/webhooks/payments/"]["post"]
        self.assertIn("signature", webhook["responses"]["401"]["description"])
        self.assertNotIn("headers", webhook["responses"]["401"])

    def test_unsafe_operations_under_session_auth_document_403(self):
        for path, method, operation in operations(self.schema):
            if method in UNSAFE and path not in {
                "/api/auth/token/",
                "/api/webhooks/payments/",
            }:
                with self.subTest(path=path, method=method):
                    self.assertIn("403", operation["responses"])
        upload = self.schema["paths"]["/upload"]["post"]["responses"]["403"]
        self.assertIn("user_id", upload["description"])

    def test_404_on_objects_and_pages(self):
        for path, method, operation in operations(self.schema):
            paged = method == "get" and "page" in {
                p["name"] for p in operation.get("parameters", [])
            }
            if "{" in path or paged:
                with self.subTest(path=path, method=method):
                    self.assertIn(
                        "not_found", operation["responses"]["404"]["description"]
                    )
        self.assertNotIn(
            "404", self.schema["paths"]["/api/orders/"]["post"]["responses"]
        )

    def test_the_page_parameter_starts_at_1_and_may_be_empty(self):
        for path in ["/api/orders/", "/api/photos/", "/api/users/"]:
            with self.subTest(path=path):
                operation = self.schema["paths"][path]["get"]
                [page] = [p for p in operation["parameters"] if p["name"] == "page"]
                self.assertEqual(page["schema"]["minimum"], 1)
                self.assertIs(page["allowEmptyValue"], True)
        client = token_client(make_user())
        self.assertEqual(client.get("/api/orders/?page=").status_code, 200)
        self.assertEqual(client.get("/api/orders/?page=0").status_code, 404)

    def test_bodies_document_400_413_and_415(self):
        for path, method, operation in operations(self.schema):
            if "requestBody" not in operation:
                continue
            with self.subTest(path=path, method=method):
                responses = operation["responses"]
                self.assertIn("400", responses)
                self.assertIn("payload_too_large", responses["413"]["description"])
                if path == "/api/webhooks/payments/":
                    # Read as signed bytes, never parsed by DRF.
                    self.assertNotIn("415", responses)
                else:
                    self.assertIn(
                        "unsupported_media_type", responses["415"]["description"]
                    )

    def test_field_errors_are_documented_by_field(self):
        answer = self.schema["paths"]["/api/orders/"]["post"]["responses"]["400"]
        refs = answer["content"]["application/json"]["schema"]["anyOf"]
        self.assertIn({"$ref": "#/components/schemas/Error"}, refs)
        errors = self.schema["components"]["schemas"]["OrderCreateValidationError"]
        self.assertEqual(
            set(errors["properties"]),
            {"client_id", "product_id", "quantity", "non_field_errors"},
        )
        self.assertIs(errors["additionalProperties"], False)

    def test_json_photo_bodies_have_no_file_and_need_a_filename(self):
        for path, name in [
            ("/api/photos/", "PhotoCreate"),
            ("/upload", "UploadCreate"),
        ]:
            content = self.schema["paths"][path]["post"]["requestBody"]["content"]
            components = self.schema["components"]["schemas"]
            with self.subTest(path=path):
                for media in ["application/json", "application/x-www-form-urlencoded"]:
                    ref = content[media]["schema"]["$ref"]
                    self.assertEqual(ref, f"#/components/schemas/{name}Request")
                body = components[f"{name}Request"]
                self.assertNotIn("file", body["properties"])
                self.assertIn("filename", body["required"])
                body_spec = self.schema["paths"][path]["post"]["requestBody"]
                self.assertIs(body_spec["required"], True)
                ref = content["multipart/form-data"]["schema"]["$ref"]
                multipart = components[ref.rsplit("/", 1)[1]]
                self.assertEqual(multipart["properties"]["file"]["format"], "binary")
                self.assertNotIn("filename", multipart.get("required", []))
                # One of file or filename; an empty form field counts as absent.
                multipart_ref = {"$ref": ref, "components": self.schema["components"]}
                for body, valid in [
                    ({"file": "x"}, True),
                    ({"filename": "a"}, True),
                    ({"filename": "", "file": "x"}, True),
                    ({"filename": ""}, False),
                    ({"filename": "a", "file": ""}, False),
                    ({"caption": "c"}, False),
                ]:
                    if path == "/upload":
                        body = {**body, "user_id": 1}
                    with self.subTest(body=body):
                        errors = list(
                            jsonschema.Draft4Validator(multipart_ref).iter_errors(body)
                        )
                        self.assertEqual(not errors, valid, errors)

    def test_text_fields_refuse_nul_characters_as_drf_does(self):
        components = self.schema["components"]["schemas"]
        for name, field in [
            ("OrderCreateRequest", "client_id"),
            ("UserCreateRequest", "password"),
            ("PaymentEventRequest", "id"),
        ]:
            with self.subTest(name=name, field=field):
                schema = components[name]["properties"][field]
                self.assertTrue(jsonschema.Draft4Validator(schema).is_valid("a"))
                self.assertFalse(jsonschema.Draft4Validator(schema).is_valid("a\x00"))
        caption = {**components["PhotoCreateRequest"]["properties"]["caption"]}
        self.assertTrue(jsonschema.Draft4Validator(caption).is_valid(""))
        self.assertFalse(jsonschema.Draft4Validator(caption).is_valid("\x00"))
        response = token_client(make_user()).post(
            "/api/photos/", {"filename": "a", "caption": "a\x00"}, format="json"
        )
        self.assertEqual(response.status_code, 400)


class ErrorBodiesMatchTheSchemaTests(TestCase):
    """The documented 400 bodies are the ones the endpoints send."""

    @classmethod
    def setUpTestData(cls):
        cls.schema = served_schema()
        cls.user = make_user()

    def answer_schema(self, path, status):
        responses = self.schema["paths"][path]["post"]["responses"]
        return responses[str(status)]["content"]["application/json"]["schema"]

    def test_field_errors_parse_errors_and_non_objects(self):
        client = token_client(self.user)
        cases = [
            ("/api/orders/", {"client_id": "", "product_id": "x"}, "json"),
            ("/api/orders/", [1, 2], "json"),
            ("/api/photos/", {"caption": "no name"}, "json"),
            ("/api/photos/", {"caption": "no name"}, "multipart"),
            ("/upload", {"user_id": "one"}, "json"),
            ("/api/users/", {"email": "nope"}, "json"),
        ]
        for path, body, kind in cases:
            with self.subTest(path=path, body=body, kind=kind):
                response = client.post(path, body, format=kind)
                self.assertEqual(response.status_code, 400)
                assert_matches(
                    self.schema, self.answer_schema(path, 400), response.json()
                )
        response = client.post("/api/orders/", "{nope", content_type="application/json")
        self.assertEqual(response.status_code, 400)
        assert_matches(
            self.schema, self.answer_schema("/api/orders/", 400), response.json()
        )

    def test_a_taken_email_is_a_documented_field_error(self):
        body = {
            "email": self.user.email.upper(),
            "name": "x",
            "password": "a-Long-pass-9",
        }
        response = APIClient().post("/api/users/", body, format="json")
        self.assertEqual(response.status_code, 400)
        assert_matches(
            self.schema, self.answer_schema("/api/users/", 400), response.json()
        )

    def test_an_undocumented_field_would_not_match(self):
        with self.assertRaises(jsonschema.ValidationError):
            assert_matches(
                self.schema, self.answer_schema("/api/orders/", 400), {"other": ["x"]}
            )


class SchemaOfViewsTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schema = schema_views.schema()

    def errors(self, path):
        answer = self.schema["paths"][path]["post"]["responses"]["400"]
        [_, ref] = answer["content"]["application/json"]["schema"]["anyOf"]
        return {**ref, "components": self.schema["components"]}

    def test_only_api_paths_are_operations(self):
        self.assertNotIn("/elsewhere/", self.schema["paths"])

    def test_batch_errors_are_documented_by_index(self):
        errors = self.errors("/api/batch/")
        valid = [
            {
                "orders": [
                    {},
                    {"quantity": ["Ensure this value is greater than or equal to 1."]},
                ]
            },
            {"orders": {"non_field_errors": ["This list may not be empty."]}},
            {"orders": ["This field is required."]},
            {"tags": {"2": ["Not a valid string."]}},
            {"tags": ['Expected a list of items but got type "str".']},
            {"notes": ["Value must be valid JSON."]},
            {
                "non_field_errors": [
                    "Invalid data. Expected a dictionary, but got list."
                ]
            },
        ]
        for body in valid:
            with self.subTest(body=body):
                jsonschema.validate(body, errors)
        invalid = [
            {"orders": [{"price": ["x"]}]},
            {"orders": {"0": {"quantity": ["x"]}}},
            {"elsewhere": ["x"]},
        ]
        for body in invalid:
            with self.subTest(body=body), self.assertRaises(jsonschema.ValidationError):
                jsonschema.validate(body, errors)

    def test_a_throttled_view_documents_429_with_retry_after(self):
        responses = self.schema["paths"]["/api/throttled/"]["post"]["responses"]
        self.assertTrue(responses["429"]["headers"]["Retry-After"]["required"])
        self.assertNotIn("401", responses)
        batch = self.schema["paths"]["/api/batch/"]["post"]["responses"]
        self.assertNotIn("429", batch)
        self.assertIn("401", batch)
