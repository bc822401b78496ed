import json
import re

from rest_framework.test import APITestCase

from tests.factories import make_user, token_client
from tests.uploads.media import TempMediaRootMixin, image
from uploads.models import Photo

STORED_NAME = re.compile(r"^photos/[0-9a-f]{32}$")

ODD_FILENAMES = [
    "猫の写真.jpg",
    "cat \U0001f408\u200d\u2b1b.png",
    "e\u0301t\u00e9",
    "\u202egnp.exe",
    "zero\u200bwidth",
    "../../etc/passwd",
    "a/b\\c.jpg",
    "/absolute/path.png",
    "C:\\Windows\\win.ini",
    "..",
    ".",
    "NUL",
    "con.txt",
    "%2e%2e%2fetc%2fpasswd",
    "line\nbreak\r\n.jpg",
    "tab\there",
    "quote\"and'apostrophe;",
    " ",
    "x" * 255,
]


class OddFilenameTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.client = token_client(make_user())

    def assert_only_generated_names_on_disk(self):
        for path in self.files_on_disk():
            self.assertRegex(path.as_posix(), STORED_NAME)

    def test_odd_filenames_are_returned_exactly_as_json(self):
        for filename in ODD_FILENAMES:
            with self.subTest(filename=filename):
                response = self.client.post(
                    "/api/photos/", {"filename": filename}, format="json"
                )
                self.assertEqual(response.status_code, 201, response.data)
                self.assertEqual(response.data["filename"], filename)
                detail = self.client.get(f"/api/photos/{response.data['id']}/")
                self.assertEqual(detail.data["filename"], filename)
                self.assertEqual(
                    Photo.objects.get(pk=response.data["id"]).filename, filename
                )
        self.assertEqual(self.files_on_disk(), [])

    def test_odd_filenames_with_a_file_never_reach_the_disk(self):
        for n, filename in enumerate(ODD_FILENAMES):
            with self.subTest(filename=filename):
                content = f"bytes {n}".encode()
                response = self.client.post(
                    "/api/photos/",
                    {"filename": filename, "file": image(content)},
                    format="multipart",
                )
                self.assertEqual(response.status_code, 201, response.data)
                self.assertEqual(response.data["filename"], filename)
                download = self.client.get(response.data["file"])
                self.assertEqual(download.status_code, 200)
                self.assertEqual(b"".join(download.streaming_content), content)
                retry = self.client.post(
                    "/api/photos/",
                    {"filename": filename, "file": image(content)},
                    format="multipart",
                )
                self.assertEqual(retry.status_code, 200, retry.data)
        self.assertEqual(len(self.files_on_disk()), len(ODD_FILENAMES))
        self.assert_only_generated_names_on_disk()

    def test_a_path_in_the_uploaded_files_own_name_is_not_used_either(self):
        response = self.client.post(
            "/api/photos/",
            {"file": image(b"data", name="../../escape.png")},
            format="multipart",
        )
        self.assertEqual(response.status_code, 201, response.data)
        self.assert_only_generated_names_on_disk()
        self.assertEqual(len(self.files_on_disk()), 1)


class BadInputTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.user = make_user()
        self.client = token_client(self.user)

    def tearDown(self):
        self.assertEqual(Photo.objects.count(), 0)
        self.assertEqual(self.files_on_disk(), [])
        super().tearDown()

    def test_bad_json_fields_are_400_with_field_errors(self):
        cases = {
            "missing filename": ({"caption": "x"}, "filename"),
            "null filename": ({"filename": None}, "filename"),
            "empty filename": ({"filename": ""}, "filename"),
            "256-character filename": ({"filename": "x" * 256}, "filename"),
            "NUL in filename": ({"filename": "a\x00b"}, "filename"),
            "object filename": ({"filename": {"a": 1}}, "filename"),
            "list filename": ({"filename": ["a"]}, "filename"),
            "boolean filename": ({"filename": True}, "filename"),
            "null caption": ({"filename": "a", "caption": None}, "caption"),
            "long caption": ({"filename": "a", "caption": "c" * 2001}, "caption"),
            "file as a string": ({"filename": "a", "file": "aGVsbG8="}, "file"),
        }
        for label, (body, field) in cases.items():
            with self.subTest(label):
                response = self.client.post("/api/photos/", body, format="json")
                self.assertEqual(response.status_code, 400, response.data)
                self.assertIn(field, response.data)

    def test_a_lone_surrogate_in_the_filename_is_400(self):
        response = self.client.post(
            "/api/photos/",
            '{"filename": "a\\ud800b"}',
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 400, response.data)
        self.assertIn("filename", response.data)

    def test_a_body_that_is_not_an_object_is_400(self):
        for body in ["[]", '["a.jpg"]', '"a.jpg"', "42", "null"]:
            with self.subTest(body=body):
                response = self.client.post(
                    "/api/photos/", body, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400, response.data)

    def test_malformed_json_is_400(self):
        for body in ["{", '{"filename": }', "{'filename': 'a'}", "\xff"]:
            with self.subTest(body=body):
                response = self.client.post(
                    "/api/photos/", body, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400, response.data)
                self.assertEqual(response.data["code"], "parse_error")

    def test_unknown_content_type_is_415(self):
        for content_type in ["text/plain", "application/xml", "image/png"]:
            with self.subTest(content_type=content_type):
                response = self.client.post(
                    "/api/photos/",
                    json.dumps({"filename": "a"}),
                    content_type=content_type,
                )
                self.assertEqual(response.status_code, 415, response.data)
                self.assertEqual(response.data["code"], "unsupported_media_type")

    def test_a_json_body_over_2_mib_is_413(self):
        body = json.dumps({"filename": "a", "caption": "c" * (2 * 1024 * 1024)})
        response = self.client.post(
            "/api/photos/", body, content_type="application/json"
        )
        self.assertEqual(response.status_code, 413, response.data)

    def test_bad_fields_beside_a_file_write_nothing(self):
        cases = {
            "256-character filename": {"filename": "x" * 256},
            "long caption": {"filename": "a", "caption": "c" * 2001},
            "NUL in filename": {"filename": "a\x00b"},
        }
        for label, fields in cases.items():
            with self.subTest(label):
                response = self.client.post(
                    "/api/photos/", {**fields, "file": image()}, format="multipart"
                )
                self.assertEqual(response.status_code, 400, response.data)

    def test_an_empty_file_is_400(self):
        response = self.client.post(
            "/api/photos/", {"filename": "a", "file": image(b"")}, format="multipart"
        )
        self.assertEqual(response.status_code, 400, response.data)
        self.assertIn("file", response.data)

    def test_bad_input_at_upload_is_400(self):
        for body in [
            {"user_id": self.user.pk},
            {"user_id": self.user.pk, "filename": None},
        ]:
            with self.subTest(body=body):
                response = self.client.post("/upload", body, format="json")
                self.assertEqual(response.status_code, 400, response.data)
                self.assertIn("filename", response.data)
        response = self.client.post("/upload", "[]", content_type="application/json")
        self.assertEqual(response.status_code, 400, response.data)
