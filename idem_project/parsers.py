"""Request parsers that turn an oversized body into 413 instead of reading it whole."""

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from idem_project.exceptions import PayloadTooLarge


def _read_limited(stream: IO[bytes] | None) -> bytes:
    """Return the body, or raise PayloadTooLarge past ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge
    return body


class _LimitedStream:
    """A file-like view of an already read body, for the stock parsers."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the 2 MiB body limit applied before parsing."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        body = _read_limited(stream)
        return super().parse(_LimitedStream(body), media_type, parser_context)


class FormParser(parsers.FormParser):
    """DRF's form parser with the 2 MiB body limit applied before parsing."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        body = _read_limited(stream)
        return super().parse(_LimitedStream(body), media_type, parser_context)


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; too many non-file bytes answer 413, not Django's 400."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RequestDataTooBig as exc:
            raise PayloadTooLarge from exc
        except (TooManyFieldsSent, TooManyFilesSent) as exc:
            raise ParseError(str(exc)) from exc
