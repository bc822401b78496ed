import hashlib
import re
from pathlib import Path

from django.test import override_settings
from rest_framework.test import APITestCase

from tests.factories import make_user, token_client
from tests.uploads.media import TempMediaRootMixin, image
from uploads.models import Photo

STORED_NAME = re.compile(r"^photos/[0-9a-f]{32}$")


class PhotoJsonCreateTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.user = make_user()
        self.client = token_client(self.user)

    def test_first_create_is_201_with_location_and_body(self):
        response = self.client.post(
            "/api/photos/", {"filename": "cat.jpg", "caption": "a cat"}, format="json"
        )
        self.assertEqual(response.status_code, 201, response.data)
        photo = Photo.objects.get()
        self.assertEqual(
            response["Location"], f"http://testserver/api/photos/{photo.pk}/"
        )
        self.assertEqual(
            set(response.data),
            {
                "id",
                "owner",
                "filename",
                "caption",
                "size",
                "sha256",
                "file",
                "uploaded_at",
            },
        )
        self.assertEqual(response.data["id"], photo.pk)
        self.assertEqual(response.data["owner"], self.user.pk)
        self.assertEqual(response.data["filename"], "cat.jpg")
        self.assertEqual(response.data["caption"], "a cat")
        self.assertIsNone(response.data["size"])
        self.assertIsNone(response.data["sha256"])
        self.assertIsNone(response.data["file"])
        self.assertEqual(self.files_on_disk(), [])

    def test_caption_defaults_to_empty(self):
        response = self.client.post("/api/photos/", {"filename": "a"}, format="json")
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(response.data["caption"], "")

    def test_same_filename_and_caption_is_200_and_the_same_photo(self):
        body = {"filename": "cat.jpg", "caption": "a cat"}
        first = self.client.post("/api/photos/", body, format="json")
        retry = self.client.post("/api/photos/", body, format="json")
        self.assertEqual(retry.status_code, 200, retry.data)
        self.assertNotIn("Location", retry)
        self.assertEqual(retry.data, first.data)
        self.assertEqual(Photo.objects.count(), 1)

    def test_same_filename_other_caption_is_409_and_changes_nothing(self):
        self.client.post(
            "/api/photos/", {"filename": "cat.jpg", "caption": "a cat"}, format="json"
        )
        for caption in ["a dog", "", "a cat "]:
            with self.subTest(caption=caption):
                response = self.client.post(
                    "/api/photos/",
                    {"filename": "cat.jpg", "caption": caption},
                    format="json",
                )
                self.assertEqual(response.status_code, 409, response.data)
                self.assertEqual(response.data["code"], "filename_taken")
                self.assertEqual(Photo.objects.get().caption, "a cat")

    def test_filename_is_compared_exactly(self):
        for filename in ["cat.jpg", "Cat.jpg", "cat.jpg ", " cat.jpg"]:
            with self.subTest(filename=filename):
                response = self.client.post(
                    "/api/photos/", {"filename": filename}, format="json"
                )
                self.assertEqual(response.status_code, 201, response.data)
                self.assertEqual(response.data["filename"], filename)
        self.assertEqual(Photo.objects.count(), 4)

    def test_two_owners_may_use_the_same_filename(self):
        other = token_client(make_user())
        body = {"filename": "cat.jpg", "caption": "mine"}
        self.assertEqual(
            self.client.post("/api/photos/", body, format="json").status_code, 201
        )
        body["caption"] = "theirs"
        self.assertEqual(
            other.post("/api/photos/", body, format="json").status_code, 201
        )


class PhotoMultipartCreateTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.user = make_user()
        self.client = token_client(self.user)
        self.content = bytes(range(256)) * 40

    def upload(self, content=None, **fields):
        fields.setdefault("file", image(self.content if content is None else content))
        return self.client.post("/api/photos/", fields, format="multipart")

    def test_file_is_hashed_measured_and_stored_under_a_generated_name(self):
        response = self.upload(filename="cat.png", caption="a cat")
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(response.data["size"], len(self.content))
        self.assertEqual(
            response.data["sha256"], hashlib.sha256(self.content).hexdigest()
        )
        photo = Photo.objects.get()
        self.assertEqual(
            response.data["file"], f"http://testserver/api/photos/{photo.pk}/file/"
        )
        self.assertRegex(photo.file.name, STORED_NAME)
        self.assertEqual(self.files_on_disk(), [Path(photo.file.name)])
        self.assertEqual((self.media_root / photo.file.name).read_bytes(), self.content)

    def test_filename_defaults_to_the_uploaded_files_name(self):
        response = self.upload(file=image(self.content, name="holiday.png"))
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(response.data["filename"], "holiday.png")
        self.assertEqual(response.data["caption"], "")

    def test_an_empty_filename_field_counts_as_absent(self):
        response = self.upload(filename="", file=image(self.content, name="x.png"))
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(response.data["filename"], "x.png")

    def test_retry_of_the_same_file_is_200_and_writes_no_second_file(self):
        first = self.upload(filename="cat.png", caption="c")
        retry = self.upload(filename="cat.png", caption="c")
        self.assertEqual(retry.status_code, 200, retry.data)
        self.assertEqual(retry.data, first.data)
        self.assertEqual(Photo.objects.count(), 1)
        self.assertEqual(len(self.files_on_disk()), 1)

    def test_other_bytes_under_the_same_name_is_409_and_changes_nothing(self):
        first = self.upload(filename="cat.png")
        stored = Photo.objects.get()
        response = self.upload(content=b"other bytes", filename="cat.png")
        self.assertEqual(response.status_code, 409, response.data)
        self.assertEqual(response.data["code"], "filename_taken")
        self.assertEqual(self.files_on_disk(), [Path(stored.file.name)])
        self.assertEqual(
            (self.media_root / stored.file.name).read_bytes(), self.content
        )
        photo = Photo.objects.get()
        self.assertEqual(photo.sha256, first.data["sha256"])
        self.assertEqual(photo.size, len(self.content))
        self.assertEqual(photo.file.name, stored.file.name)

    def test_metadata_only_then_a_file_under_the_same_name_is_409(self):
        self.client.post("/api/photos/", {"filename": "cat.png"}, format="json")
        response = self.upload(filename="cat.png")
        self.assertEqual(response.status_code, 409, response.data)
        self.assertEqual(response.data["code"], "filename_taken")
        self.assertIsNone(Photo.objects.get().sha256)
        self.assertEqual(self.files_on_disk(), [])

    def test_a_file_then_metadata_only_under_the_same_name_is_409(self):
        self.upload(filename="cat.png")
        response = self.client.post(
            "/api/photos/", {"filename": "cat.png"}, format="json"
        )
        self.assertEqual(response.status_code, 409, response.data)
        self.assertEqual(len(self.files_on_disk()), 1)

    def test_multipart_without_a_file_is_metadata_only(self):
        response = self.client.post(
            "/api/photos/", {"filename": "note", "caption": "x"}, format="multipart"
        )
        self.assertEqual(response.status_code, 201, response.data)
        self.assertIsNone(response.data["file"])
        self.assertEqual(self.files_on_disk(), [])

    def test_download_returns_the_exact_bytes(self):
        response = self.upload(filename="cat.png")
        download = self.client.get(response.data["file"])
        self.assertEqual(download.status_code, 200)
        self.assertEqual(b"".join(download.streaming_content), self.content)
        self.assertEqual(download["Content-Type"], "application/octet-stream")
        self.assertTrue(download["Content-Disposition"].startswith("attachment;"))

    def test_download_of_a_metadata_only_photo_is_404(self):
        response = self.client.post("/api/photos/", {"filename": "x"}, format="json")
        download = self.client.get(f"/api/photos/{response.data['id']}/file/")
        self.assertEqual(download.status_code, 404)

    def test_media_is_not_served_publicly(self):
        self.upload(filename="cat.png")
        stored = Photo.objects.get().file.name
        self.assertEqual(self.client.get(f"/media/{stored}").status_code, 404)


@override_settings(UPLOAD_MAX_BYTES=1024)
class PhotoSizeLimitTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.client = token_client(make_user())

    def test_a_file_over_the_limit_is_413_and_nothing_is_stored(self):
        sizes = {
            "just over": 1025,
            "refused mid-stream": 64 * 1024,
            "refused before reading": 3 * 1024 * 1024,
        }
        for label, size in sizes.items():
            with self.subTest(label):
                response = self.client.post(
                    "/api/photos/",
                    {"filename": f"big-{size}", "file": image(b"x" * size)},
                    format="multipart",
                )
                self.assertEqual(response.status_code, 413, response.data)
                self.assertEqual(response.data["code"], "payload_too_large")
                self.assertEqual(Photo.objects.count(), 0)
                self.assertEqual(self.files_on_disk(), [])

    def test_over_the_limit_at_upload_is_413_too(self):
        response = self.client.post(
            "/upload",
            {"user_id": 0, "filename": "big", "file": image(b"x" * 2048)},
            format="multipart",
        )
        self.assertEqual(response.status_code, 413, response.data)
        self.assertEqual(self.files_on_disk(), [])

    def test_a_file_of_exactly_the_limit_is_accepted(self):
        response = self.client.post(
            "/api/photos/",
            {"filename": "edge", "file": image(b"x" * 1024)},
            format="multipart",
        )
        self.assertEqual(response.status_code, 201, response.data)
        self.assertEqual(response.data["size"], 1024)
        self.assertEqual(len(self.files_on_disk()), 1)


class PhotoScopingTests(TempMediaRootMixin, APITestCase):
    def setUp(self):
        super().setUp()
        self.owner, self.other = make_user(), make_user()
        self.owner_client = token_client(self.owner)
        self.other_client = token_client(self.other)
        response = self.owner_client.post(
            "/api/photos/",
            {"filename": "mine.png", "file": image(b"private")},
            format="multipart",
        )
        self.photo_id = response.data["id"]

    def test_list_shows_only_the_callers_photos(self):
        self.other_client.post("/api/photos/", {"filename": "theirs"}, format="json")
        response = self.owner_client.get("/api/photos/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual([p["id"] for p in response.data["results"]], [self.photo_id])
        response = self.other_client.get("/api/photos/")
        self.assertEqual([p["filename"] for p in response.data["results"]], ["theirs"])

    def test_owner_reads_the_photo(self):
        response = self.owner_client.get(f"/api/photos/{self.photo_id}/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.data["filename"], "mine.png")

    def test_another_owners_photo_and_file_are_404(self):
        for url in [
            f"/api/photos/{self.photo_id}/",
            f"/api/photos/{self.photo_id}/file/",
        ]:
            with self.subTest(url=url):
                response = self.other_client.get(url)
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response.data["code"], "not_found")

    def test_odd_ids_are_404(self):
        for pk in ["0", "99999999", "abc", "1.5", "%E2%9C%93"]:
            with self.subTest(pk=pk):
                self.assertEqual(
                    self.owner_client.get(f"/api/photos/{pk}/").status_code, 404
                )

    def test_anonymous_is_401_with_token_challenge(self):
        anonymous = self.client_class()
        for method, url in [
            ("get", "/api/photos/"),
            ("get", f"/api/photos/{self.photo_id}/"),
            ("get", f"/api/photos/{self.photo_id}/file/"),
            ("post", "/api/photos/"),
            ("post", "/upload"),
        ]:
            with self.subTest(method=method, url=url):
                response = (
                    getattr(anonymous, method)(url, {"filename": "x"}, format="json")
                    if method == "post"
                    else anonymous.get(url)
                )
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response["WWW-Authenticate"], "Token")
                self.assertEqual(response.data["code"], "not_authenticated")
        self.assertEqual(Photo.objects.count(), 1)


class PhotoDownloadNegotiationTests(TempMediaRootMixin, APITestCase):
    def test_download_answers_any_accept_that_allows_json(self):
        client = token_client(make_user())
        response = client.post(
            "/api/photos/", {"filename": "a", "file": image(b"abc")}, format="multipart"
        )
        for accept in ["*/*", "application/json", "text/html,*/*;q=0.8"]:
            with self.subTest(accept=accept):
                download = client.get(response.data["file"], HTTP_ACCEPT=accept)
                self.assertEqual(download.status_code, 200)
                self.assertEqual(b"".join(download.streaming_content), b"abc")
        download = client.get(response.data["file"], HTTP_ACCEPT="image/png")
        self.assertEqual(download.status_code, 406)


class PhotoDownloadNameTests(TempMediaRootMixin, APITestCase):
    """The download names the file after the photo, safely for any filename."""

    def setUp(self):
        super().setUp()
        self.client.force_authenticate(make_user())

    def download(self, filename):
        response = self.client.post(
            "/api/photos/", {"filename": filename, "file": image()}, format="multipart"
        )
        self.assertEqual(response.status_code, 201, response.data)
        return self.client.get(response.data["file"]), response.data["id"]

    def test_an_ascii_name_is_quoted(self):
        download, _ = self.download('say "cheese".png')
        self.assertEqual(
            download["Content-Disposition"],
            'attachment; filename="say \\"cheese\\".png"',
        )

    def test_a_name_with_control_characters_is_offered_under_the_photo_id(self):
        download, pk = self.download("two\r\nlines.png")
        self.assertEqual(download.status_code, 200)
        self.assertEqual(
            download["Content-Disposition"], f'attachment; filename="photo-{pk}"'
        )
