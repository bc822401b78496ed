"""The Idempotency-Key header's syntax and the canonical fingerprint of a request.

Pure functions: no ORM, no DRF, no settings (the fingerprint's secret is
passed in). Building a fingerprint never raises on a bad body; the view
answers a malformed body itself.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_KEY_LENGTH = 255

_JSON_MEDIA_TYPES = {"application/json"}
_FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class InvalidKey(ValueError):
    """A key header value is not 1 to 255 visible ASCII characters, or two disagree."""


def _is_visible_ascii(value: str) -> bool:
    return all("\x21" <= char <= "\x7e" for char in value)


def parse_key(value: str) -> str:
    """Return the key a header value carries; raise InvalidKey when it is malformed.

    The bare form ``abc`` and the quoted form of the IETF draft (a structured
    field string, ``"abc"``) carry the same key. A quoted key may hold no
    quote, backslash or space.
    """
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        key = value[1:-1]
        if '"' in key or "\\" in key:
            raise InvalidKey(value)
    elif value.startswith('"') or value.endswith('"'):
        raise InvalidKey(value)
    else:
        key = value
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not _is_visible_ascii(key):
        raise InvalidKey(value)
    return key


def key_from_headers(value: str | None, alias_value: str | None) -> str | None:
    """Return the key sent in the header or its alias, or None when neither was sent.

    Raise InvalidKey when a value is malformed or the two carry different keys.
    """
    keys = {parse_key(v) for v in (value, alias_value) if v is not None}
    if len(keys) > 1:
        raise InvalidKey("the key header and its alias differ")
    return keys.pop() if keys else None


def key_digest(key: str, *, secret: bytes) -> str:
    """Return 12 hex digits of an HMAC of ``key``: enough to tell keys apart in a log."""
    return hmac.new(secret, key.encode("ascii"), hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class FilePart:
    """One uploaded file of a multipart payload, known by its SHA-256 digest."""

    field: str
    filename: str
    sha256: str


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _raw_payload(body: bytes) -> bytes:
    return b"raw:" + _digest(body).encode()


def _json_dumps(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def data_payload(data: Any) -> bytes:
    """Return the canonical payload of already parsed JSON data."""
    try:
        return b"json:" + _json_dumps(data)
    except (TypeError, ValueError, RecursionError):
        return _raw_payload(repr(data).encode("utf-8", "surrogatepass"))


def json_payload(body: bytes) -> bytes:
    """Return the canonical payload of a JSON body: keys sorted, no white space.

    A body that does not parse as JSON is taken byte for byte.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _raw_payload(body)
    return data_payload(data)


def form_payload(
    *, fields: Iterable[tuple[str, str]] = (), files: Iterable[FilePart] = ()
) -> bytes:
    """Return the canonical payload of form fields and uploaded files.

    Fields and files are ordered by name; the values of one name keep the
    order they were sent in.
    """
    canonical = {
        "fields": [list(pair) for pair in sorted(fields, key=lambda pair: pair[0])],
        "files": [
            [part.field, part.filename, part.sha256]
            for part in sorted(files, key=lambda part: part.field)
        ],
    }
    return b"form:" + _json_dumps(canonical)


def body_payload(*, content_type: str, body: bytes) -> bytes:
    """Return the canonical payload of a non-multipart body, by its media type."""
    if not body:
        return b"empty:"
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _JSON_MEDIA_TYPES or media_type.endswith("+json"):
        return json_payload(body)
    if media_type == _FORM_MEDIA_TYPE:
        text = body.decode("utf-8", "surrogateescape")
        return form_payload(fields=parse_qsl(text, keep_blank_values=True))
    return _raw_payload(body)


def request_fingerprint(
    *, method: str, path: str, payload: bytes, secret: bytes
) -> str:
    """Return the HMAC-SHA256 hex digest of a method, a path with its query and a payload.

    Keyed with ``secret``: without it, a reader of stored fingerprints cannot
    test guesses of a field that was in the payload (a password).
    """
    return request_fingerprints(
        method=method, path=path, payload=payload, secrets=(secret,)
    )[0]


def request_fingerprints(
    *, method: str, path: str, payload: bytes, secrets: Sequence[bytes]
) -> tuple[str, ...]:
    """Return ``request_fingerprint`` under each of ``secrets``, in their order.

    The payload is hashed once; each further secret costs one HMAC of a short
    message, so the fingerprints under a rotated secret's fallbacks come cheap.
    """
    head = f"{method.upper()}\n{path}\n".encode("utf-8", "surrogatepass")
    message = head + _digest(payload).encode()
    return tuple(
        hmac.new(secret, message, hashlib.sha256).hexdigest() for secret in secrets
    )
