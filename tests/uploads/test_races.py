from django.test import TransactionTestCase
from rest_framework.test import APIClient

from tests.concurrency import needs_postgresql, run_together
from tests.factories import make_user
from tests.uploads.media import TempMediaRootMixin, image
from uploads.models import Photo


@needs_postgresql
class PhotoCreateRaceTests(TempMediaRootMixin, TransactionTestCase):
    def test_concurrent_identical_uploads_make_one_photo_and_one_file(self):
        """The losers of the insert race wait for the winner's row and write no file."""
        user = make_user()
        content = b"the same bytes from every client" * 1000

        def post():
            client = APIClient()
            client.force_authenticate(user)
            return client.post(
                "/api/photos/",
                {"filename": "race.png", "caption": "c", "file": image(content)},
                format="multipart",
            )

        results = run_together(post, threads=16)
        errors = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(errors, [])
        statuses = sorted(r.status_code for r in results)
        self.assertEqual(statuses, [200] * 15 + [201])
        self.assertEqual({r.data["id"] for r in results}, {Photo.objects.get().pk})
        self.assertEqual(len(self.files_on_disk()), 1)

    def test_concurrent_identical_json_creates_make_one_photo(self):
        user = make_user()

        def post():
            client = APIClient()
            client.force_authenticate(user)
            return client.post(
                "/upload", {"user_id": user.pk, "filename": "meta"}, format="json"
            ).status_code

        results = run_together(post, threads=16)
        self.assertEqual(sorted(results), [200] * 15 + [201])
        self.assertEqual(Photo.objects.count(), 1)
        self.assertEqual(self.files_on_disk(), [])
