from django.test import TestCase

from tests.factories import make_user
from tests.uploads.media import TempMediaRootMixin, image
from uploads.models import Photo
from uploads.services import photo_create


class PhotoAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = make_user(is_staff=True, is_superuser=True)
        cls.owner = make_user(email="owner@example.com")
        cls.photo = Photo.objects.create(owner=cls.owner, filename="猫.jpg")

    def setUp(self):
        self.client.force_login(self.admin)

    def test_changelist_search_and_filters(self):
        for query in ["", "?q=%E7%8C%AB", "?q=owner@example", "?file__isempty=1"]:
            with self.subTest(query=query):
                response = self.client.get(f"/admin/uploads/photo/{query}")
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "猫.jpg")

    def test_change_page_opens(self):
        response = self.client.get(f"/admin/uploads/photo/{self.photo.pk}/change/")
        self.assertEqual(response.status_code, 200)


class PhotoAdminDownloadTests(TempMediaRootMixin, TestCase):
    """The admin's file link opens the stored file; media is never served."""

    content = b"\x89PNG\r\n\x1a\n admin pixels"

    def setUp(self):
        super().setUp()
        self.admin = make_user(is_staff=True, is_superuser=True)
        owner = make_user(email="owner@example.com")
        self.photo, _ = photo_create(
            owner=owner, filename='猫 "1".png', caption="", upload=image(self.content)
        )
        self.url = f"/admin/uploads/photo/{self.photo.pk}/file/"

    def test_change_page_links_the_download_not_media_url(self):
        self.client.force_login(self.admin)
        page = self.client.get(f"/admin/uploads/photo/{self.photo.pk}/change/")
        self.assertContains(page, f'href="{self.url}"')
        self.assertNotContains(page, self.photo.file.name)

    def test_the_link_streams_the_file_as_an_attachment(self):
        self.client.force_login(self.admin)
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(b"".join(response.streaming_content), self.content)
        self.assertEqual(
            response["Content-Disposition"],
            "attachment; filename*=utf-8''%E7%8C%AB%20%221%22.png",
        )

    def test_staff_without_view_permission_get_404(self):
        self.client.force_login(make_user(email="staff@example.com", is_staff=True))
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_anonymous_and_non_staff_users_are_sent_to_the_login(self):
        self.assertEqual(self.client.get(self.url).status_code, 302)
        self.client.force_login(make_user(email="user@example.com"))
        self.assertEqual(self.client.get(self.url).status_code, 302)

    def test_a_photo_without_a_file_has_no_link_and_no_download(self):
        self.client.force_login(self.admin)
        bare = Photo.objects.create(owner=self.photo.owner, filename="note")
        page = self.client.get(f"/admin/uploads/photo/{bare.pk}/change/")
        self.assertNotContains(page, f"/admin/uploads/photo/{bare.pk}/file/")
        response = self.client.get(f"/admin/uploads/photo/{bare.pk}/file/")
        self.assertEqual(response.status_code, 404)
