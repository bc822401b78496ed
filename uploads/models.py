"""Photos: one per owner and filename, the file kept under a generated name."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.citus import Distributed

if TYPE_CHECKING:
    from accounts.models import User


class PhotoQuerySet(models.QuerySet["Photo"]):
    """Queries on photos."""

    def owned_by(self, user: "User") -> "PhotoQuerySet":
        """Return the photos of ``user`` only."""
        return self.filter(owner=user)


class Photo(models.Model):
    """A named photo of one owner, with or without a stored file.

    ``filename`` is the client's name for the photo and nothing else: the file
    is stored under a generated name, so no user input ever becomes a path.
    In PostgreSQL its primary key is ``(id, owner_id)`` (migrations 0002, 0003).
    """

    distribution = Distributed(by="owner")

    # No index on the owner alone: the unique (owner, filename) serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="photos",
        db_index=False,
    )
    filename = models.CharField(max_length=255)
    caption = models.TextField(blank=True, default="")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # NULL, not "", says "no file was sent"; the API shows it as null.
    sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    file = models.FileField(upload_to="photos/", blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "filename"], name="uploads_photo_owner_filename_uniq"
            ),
            models.CheckConstraint(
                condition=(
                    Q(file="", size__isnull=True, sha256__isnull=True)
                    | (~Q(file="") & Q(size__isnull=False, sha256__isnull=False))
                ),
                name="uploads_photo_file_size_sha256_together",
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename
