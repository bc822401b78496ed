"""A throw-away MEDIA_ROOT per test, and a look at what landed in it."""

import shutil
import tempfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings


class TempMediaRootMixin:
    """Point MEDIA_ROOT at a fresh directory for each test and remove it after."""

    def setUp(self):
        super().setUp()
        self.media_root = Path(tempfile.mkdtemp(prefix="idem-media-"))
        override = override_settings(MEDIA_ROOT=self.media_root)
        override.enable()
        self.addCleanup(override.disable)
        self.addCleanup(shutil.rmtree, self.media_root, ignore_errors=True)

    def files_on_disk(self) -> list[Path]:
        """Return every file under MEDIA_ROOT, relative to it."""
        return sorted(
            path.relative_to(self.media_root)
            for path in self.media_root.rglob("*")
            if path.is_file()
        )


def image(content: bytes = b"\x89PNG\r\n\x1a\n fake pixels", name: str = "cat.png"):
    """Return a small uploaded file."""
    return SimpleUploadedFile(name, content, content_type="image/png")
