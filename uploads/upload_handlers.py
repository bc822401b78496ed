"""The upload handler that hashes, measures and caps photo files as they stream in."""

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext as _

from core.exceptions import PayloadTooLarge

# A multipart body carries boundaries, part headers and non-file fields beside
# the file; allow that much on top of the file limit before refusing unread.
MULTIPART_OVERHEAD = 64 * 1024


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Stream each file to a temporary file, computing its SHA-256 and size.

    The returned file carries ``sha256`` (hex) and ``size``. A file past
    ``settings.UPLOAD_MAX_BYTES`` raises PayloadTooLarge (413) as soon as the
    limit is crossed, so nothing is ever stored for it.
    """

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> None:
        """Refuse, unread, a body that cannot hold a file within the limit."""
        limit = (
            settings.UPLOAD_MAX_BYTES
            + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            + MULTIPART_OVERHEAD
        )
        if content_length and content_length > limit:
            raise PayloadTooLarge(_too_large_detail())

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._digest = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._received += len(raw_data)
        if self._received > settings.UPLOAD_MAX_BYTES:
            # The parser only closes completed files; this one is still open.
            self.file.close()
            raise PayloadTooLarge(_too_large_detail())
        self._digest.update(raw_data)
        super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> UploadedFile:
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self._digest.hexdigest()
        return uploaded


def _too_large_detail() -> str:
    return _("The file is larger than %(limit)d bytes.") % {
        "limit": settings.UPLOAD_MAX_BYTES
    }
