import io
import os
import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import TestCase

from tests.factories import make_user
from tests.uploads.media import TempMediaRootMixin, image
from uploads.services import photo_create


class OrphanPhotoFilesTests(TempMediaRootMixin, TestCase):
    def setUp(self):
        super().setUp()
        self.photo, _ = photo_create(
            owner=make_user(), filename="kept.png", caption="", upload=image()
        )
        self.old_orphan = default_storage.save("photos/old-orphan", ContentFile(b"x"))
        self.new_orphan = default_storage.save("photos/new-orphan", ContentFile(b"y"))
        two_hours_ago = time.time() - 7200
        for stored in (self.photo.file.name, self.old_orphan):
            os.utime(default_storage.path(stored), (two_hours_ago, two_hours_ago))

    def purge(self, *args):
        out = io.StringIO()
        call_command("purge_orphan_photo_files", *args, stdout=out)
        return out.getvalue()

    def test_only_old_files_without_a_photo_are_deleted(self):
        self.assertIn("Deleted 1 orphan photo file(s).", self.purge())
        self.assertFalse(default_storage.exists(self.old_orphan))
        self.assertTrue(default_storage.exists(self.new_orphan))
        self.assertTrue(default_storage.exists(self.photo.file.name))

    def test_dry_run_counts_and_deletes_nothing(self):
        self.assertIn("Would delete 1 orphan photo file(s).", self.purge("--dry-run"))
        self.assertTrue(default_storage.exists(self.old_orphan))

    def test_min_age_zero_takes_every_orphan(self):
        self.assertIn("Deleted 2 orphan photo file(s).", self.purge("--min-age", "0"))
        self.assertEqual(len(self.files_on_disk()), 1)

    def test_an_empty_storage_is_fine(self):
        self.photo.delete()
        for stored in (self.photo.file.name, self.old_orphan, self.new_orphan):
            default_storage.delete(stored)
        os.rmdir(default_storage.path("photos"))
        self.assertIn("Deleted 0 orphan photo file(s).", self.purge())
