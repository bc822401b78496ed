"""Creating a photo once per owner and filename, and writing its file at most once."""

import hashlib
from datetime import timedelta
from uuid import uuid4

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from uploads.exceptions import FilenameTaken
from uploads.models import Photo

PHOTO_DIRECTORY = "photos"


def photo_create(
    *, owner: User, filename: str, caption: str, upload: UploadedFile | None
) -> tuple[Photo, bool]:
    """Create the photo ``(owner, filename)`` once and return ``(photo, created)``.

    The file, if any, is written to storage under a generated name, and only
    by the request that created the row: a retry or a losing concurrent
    duplicate writes nothing. Raise FilenameTaken when the owner already has
    a photo of that name with another caption, or another file (or a file
    where none was sent, or the reverse); the stored photo is left unchanged.
    """
    sha256 = _sha256_of(upload)
    defaults = {"caption": caption, "size": None, "sha256": None, "file": ""}
    if upload is not None:
        defaults.update(
            size=upload.size,
            sha256=sha256,
            file=f"{PHOTO_DIRECTORY}/{uuid4().hex}",
        )
    written: str | None = None
    try:
        with transaction.atomic():
            photo, created = Photo.objects.get_or_create(
                owner=owner, filename=filename, defaults=defaults
            )
            if created and upload is not None:
                # Set before the write, so a write that fails halfway is cleaned up.
                written = photo.file.name
                written = _file_write(photo, upload)
    except BaseException:
        # The row is rolled back with the block; the file must go with it.
        if written is not None:
            default_storage.delete(written)
        raise
    if not created and (photo.caption != caption or photo.sha256 != sha256):
        raise FilenameTaken
    return photo, created


def _sha256_of(upload: UploadedFile | None) -> str | None:
    """Return the upload's SHA-256, computed while it streamed in when possible."""
    if upload is None:
        return None
    digest = getattr(upload, "sha256", None)
    if digest is None:
        # A file that did not stream through HashingUploadHandler.
        hasher = hashlib.sha256()
        for chunk in upload.chunks():
            hasher.update(chunk)
        upload.seek(0)
        digest = hasher.hexdigest()
    return digest


def _file_write(photo: Photo, upload: UploadedFile) -> str:
    """Write ``upload`` under the photo's generated name; return the stored name."""
    stored = default_storage.save(photo.file.name, upload)
    if stored != photo.file.name:
        # The storage picked another free name; keep the row pointing at the file.
        photo.file.name = stored
        photo.save(update_fields=["file"])
    return stored


def photo_orphan_files_delete(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Delete stored photo files that no photo refers to; return how many.

    A file is written inside the transaction that creates its photo, so a
    transaction rolled back after the write, a crash before its commit, or a
    photo deleted in the admin leaves a file behind. Only files older than
    ``older_than`` go, so a file whose transaction is still open is kept.
    """
    if not default_storage.exists(PHOTO_DIRECTORY):
        return 0
    cutoff = timezone.now() - older_than
    _, names = default_storage.listdir(PHOTO_DIRECTORY)
    old = [
        stored
        for stored in (f"{PHOTO_DIRECTORY}/{name}" for name in names)
        if default_storage.get_modified_time(stored) < cutoff
    ]
    referenced = set(Photo.objects.filter(file__in=old).values_list("file", flat=True))
    orphans = [stored for stored in old if stored not in referenced]
    if not dry_run:
        for stored in orphans:
            default_storage.delete(stored)
    return len(orphans)
