"""The download of a photo's stored file, shared by the API and the admin."""

from django.http import FileResponse

from uploads.models import Photo


def photo_file_response(photo: Photo) -> FileResponse:
    """Return the photo's stored bytes as an attachment named after the photo.

    FileResponse writes ``Content-Disposition`` itself, percent-encoding a
    non-ASCII name in ``filename*`` and escaping quotes in an ASCII one. A
    name with control characters cannot be a header value at all, so such a
    photo is offered as ``photo-<id>`` instead.
    """
    name = photo.filename if photo.filename.isprintable() else f"photo-{photo.pk}"
    return FileResponse(
        photo.file.open("rb"),
        as_attachment=True,
        filename=name,
        content_type="application/octet-stream",
    )
