import hashlib

from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings

from tests.factories import make_user
from tests.uploads.media import TempMediaRootMixin, image
from uploads.exceptions import FilenameTaken
from uploads.models import Photo
from uploads.services import photo_create


class WritesThenFailsStorage(FileSystemStorage):
    """A storage whose write lands on disk and then reports a failure."""

    def _save(self, name, content):
        super()._save(name, content)
        raise OSError("the disk went away after the write")


class PhotoCreateServiceTests(TempMediaRootMixin, TestCase):
    def setUp(self):
        super().setUp()
        self.owner = make_user()

    def test_a_file_not_hashed_on_the_way_in_is_hashed_here(self):
        photo, created = photo_create(
            owner=self.owner, filename="a", caption="", upload=image(b"abc")
        )
        self.assertTrue(created)
        self.assertEqual(photo.sha256, hashlib.sha256(b"abc").hexdigest())
        self.assertEqual(photo.size, 3)
        self.assertEqual((self.media_root / photo.file.name).read_bytes(), b"abc")

    def test_a_retry_writes_nothing_and_a_conflict_changes_nothing(self):
        first, _ = photo_create(
            owner=self.owner, filename="a", caption="c", upload=image(b"abc")
        )
        again, created = photo_create(
            owner=self.owner, filename="a", caption="c", upload=image(b"abc")
        )
        self.assertFalse(created)
        self.assertEqual(again.pk, first.pk)
        for caption, upload in [
            ("c", image(b"abd")),
            ("d", image(b"abc")),
            ("c", None),
        ]:
            with (
                self.subTest(caption=caption, upload=upload),
                self.assertRaises(FilenameTaken),
            ):
                photo_create(
                    owner=self.owner, filename="a", caption=caption, upload=upload
                )
        photo = Photo.objects.get()
        self.assertEqual((photo.caption, photo.sha256), ("c", first.sha256))
        self.assertEqual(len(self.files_on_disk()), 1)

    def test_a_failed_write_leaves_no_row_and_no_file(self):
        storages = {
            "default": {"BACKEND": f"{__name__}.WritesThenFailsStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        }
        with override_settings(STORAGES=storages), self.assertRaises(OSError):
            photo_create(owner=self.owner, filename="a", caption="", upload=image())
        self.assertEqual(Photo.objects.count(), 0)
        self.assertEqual(self.files_on_disk(), [])

    def test_the_database_refuses_a_file_without_its_hash(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            Photo.objects.create(owner=self.owner, filename="a", file="photos/x")
