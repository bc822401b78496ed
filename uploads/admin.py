"""Admin for photos."""

from django.contrib import admin

from uploads.models import Photo


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    """Photos by owner and filename; the stored file name is generated, never edited."""

    list_display = ["filename", "owner", "caption", "size", "sha256", "uploaded_at"]
    list_filter = ["uploaded_at", ("file", admin.EmptyFieldListFilter)]
    search_fields = ["filename", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    readonly_fields = ["size", "sha256", "file", "uploaded_at"]
    date_hierarchy = "uploaded_at"
