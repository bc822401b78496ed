from rest_framework.test import APITestCase

from tests.factories import make_user, token_client
from tests.uploads.media import TempMediaRootMixin, image
from uploads.models import Photo


class UploadPathTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.user = make_user()
        self.client = token_client(self.user)

    def test_own_user_id_is_201_then_200(self):
        body = {"user_id": self.user.pk, "filename": "cat.jpg"}
        response = self.client.post("/upload", body, format="json")
        self.assertEqual(response.status_code, 201, response.data)
        photo = Photo.objects.get()
        self.assertEqual(photo.owner, self.user)
        self.assertEqual(
            response["Location"], f"http://testserver/api/photos/{photo.pk}/"
        )
        self.assertNotIn("user_id", response.data)
        retry = self.client.post("/upload", body, format="json")
        self.assertEqual(retry.status_code, 200, retry.data)
        self.assertEqual(retry.data, response.data)

    def test_upload_and_api_photos_are_the_same_operation(self):
        self.client.post(
            "/upload", {"user_id": self.user.pk, "filename": "a"}, format="json"
        )
        response = self.client.post("/api/photos/", {"filename": "a"}, format="json")
        self.assertEqual(response.status_code, 200, response.data)
        response = self.client.post(
            "/upload",
            {"user_id": self.user.pk, "filename": "a", "caption": "other"},
            format="json",
        )
        self.assertEqual(response.status_code, 409, response.data)
        self.assertEqual(response.data["code"], "filename_taken")

    def test_multipart_with_a_file_is_accepted(self):
        response = self.client.post(
            "/upload",
            {"user_id": self.user.pk, "file": image(b"bytes", name="p.png")},
            format="multipart",
        )
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(response.data["filename"], "p.png")
        self.assertEqual(response.data["size"], 5)
        self.assertEqual(len(self.files_on_disk()), 1)

    def test_another_users_id_is_403_and_writes_nothing(self):
        other = make_user()
        for body, fmt in [
            ({"user_id": other.pk, "filename": "x"}, "json"),
            ({"user_id": other.pk, "filename": "x", "file": image()}, "multipart"),
        ]:
            with self.subTest(fmt=fmt):
                response = self.client.post("/upload", body, format=fmt)
                self.assertEqual(response.status_code, 403, response.data)
                self.assertEqual(response.data["code"], "permission_denied")
                self.assertIn("user_id", response.data["detail"])
        self.assertEqual(Photo.objects.count(), 0)
        self.assertEqual(self.files_on_disk(), [])

    def test_missing_or_malformed_user_id_is_400(self):
        for user_id in [
            None,
            "",
            "abc",
            "1e3",
            [],
            {},
            True,
            "1 OR 1=1",
            "\u0661",
            "\uff11",
        ]:
            with self.subTest(user_id=user_id):
                # User ids 1 may exist: "\u0661" and "\uff11" read as 1 in int().
                body = {"filename": "x"}
                if user_id is not None:
                    body["user_id"] = user_id
                response = self.client.post("/upload", body, format="json")
                self.assertEqual(response.status_code, 400, response.data)
                self.assertIn("user_id", response.data)
        self.assertEqual(Photo.objects.count(), 0)
