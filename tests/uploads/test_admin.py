from django.test import TestCase

from tests.factories import make_user
from uploads.models import Photo


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
