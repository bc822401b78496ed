"""A request's body as the canonical payload its fingerprint covers."""

import hashlib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.http.request import RawPostDataException

from idempotency.fingerprint import FilePart, body_payload, data_payload, form_payload

if TYPE_CHECKING:
    from rest_framework.request import Request


def file_digest(upload: Any) -> str:
    """Return the SHA-256 of an uploaded file, computed once.

    An upload handler that hashes files as they arrive (the project's does)
    leaves the digest on the file as ``sha256``; otherwise the file is read.
    """
    known = getattr(upload, "sha256", None)
    if isinstance(known, str) and known:
        return known
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _form(request: "Request | HttpRequest") -> bytes:
    """Return the canonical payload of a parsed form: its fields and file digests."""
    fields = [
        (name, value) for name, values in request.POST.lists() for value in values
    ]
    files = [
        FilePart(field=name, filename=upload.name or "", sha256=file_digest(upload))
        for name, uploads in request.FILES.lists()
        for upload in uploads
    ]
    return form_payload(fields=fields, files=files)


def _parsed_payload(request: "Request") -> bytes:
    """Return the canonical payload of the body DRF parsed (multipart, or read early)."""
    data = request.data
    if not hasattr(data, "lists"):
        return data_payload(data)
    return _form(request)


def _checked(body: bytes) -> bytes:
    if len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        # Django checks the declared length only; a body without one (chunked)
        # is checked here. The exception handler answers 413, as for Django's.
        raise RequestDataTooBig(
            "The request body exceeded DATA_UPLOAD_MAX_MEMORY_SIZE."
        )
    return body


def request_payload(request: "Request") -> bytes:
    """Return the canonical payload of the request's body.

    A non-multipart body is read as raw bytes through Django's ``request.body``,
    which caches them: the view still parses them, or checks their signature.
    A multipart body goes through DRF's parsers, whose files can be large, when
    the view accepts multipart at all; otherwise it is raw bytes like the rest.
    """
    content_type = request.content_type or ""
    if content_type.lower().startswith("multipart/") and any(
        parser.media_type.startswith("multipart/") for parser in request.parsers
    ):
        return _parsed_payload(request)
    try:
        body = request._request.body
    except RawPostDataException:
        # Parsed before the gate ran: session authentication's CSRF check reads
        # request.POST, which makes DRF parse the body from the stream.
        return _parsed_payload(request)
    return body_payload(content_type=content_type, body=_checked(body))


def django_payload(request: HttpRequest) -> bytes:
    """Return the canonical payload of a plain Django view's request body.

    The same payload as DRF's for the same body: a multipart body by its
    fields and file digests, any other by its raw bytes and media type.
    """
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.lower().startswith("multipart/"):
        return _form(request)
    return body_payload(content_type=content_type, body=_checked(request.body))
