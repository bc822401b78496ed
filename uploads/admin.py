"""Admin for photos."""

from django.contrib import admin
from django.http import FileResponse, Http404, HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from uploads.downloads import photo_file_response
from uploads.models import Photo


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    """Photos by owner and filename; the stored file name is generated, never edited.

    Media files are not served under ``MEDIA_URL``: the file opens through a
    download view of this admin, for staff who may view the photo.
    """

    list_display = ["filename", "owner", "caption", "size", "sha256", "uploaded_at"]
    list_filter = ["uploaded_at", ("file", admin.EmptyFieldListFilter)]
    search_fields = ["filename", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    exclude = ["file"]
    readonly_fields = ["size", "sha256", "stored_file", "uploaded_at"]
    date_hierarchy = "uploaded_at"

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<path:object_id>/file/",
            self.admin_site.admin_view(self.file_view),
            name="uploads_photo_file",
        )
        return [download, *super().get_urls()]

    @admin.display(description=_("file"))
    def stored_file(self, photo: Photo) -> str:
        if not photo.file:
            return "-"
        url = reverse("admin:uploads_photo_file", args=[photo.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def file_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """Stream the photo's stored file to staff who may view the photo."""
        photo = self.get_object(request, object_id)
        if (
            photo is None
            or not photo.file
            or not self.has_view_permission(request, photo)
        ):
            raise Http404
        return photo_file_response(photo)
