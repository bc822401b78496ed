"""The provider's signature scheme: ``X-Signature: sha256=<hex HMAC-SHA256 of the body>``."""

import hashlib
import hmac
import re

from webhooks.exceptions import InvalidSignature

_HEADER = re.compile(r"sha256=([0-9a-fA-F]{64})")


def signature_verify(*, body: bytes, header: str | None, secret: str) -> None:
    """Check ``header`` against the HMAC-SHA256 of ``body`` under ``secret``.

    The comparison takes constant time. Raise InvalidSignature when the header
    is missing, not of the form ``sha256=<64 hex digits>``, or does not match.
    """
    match = _HEADER.fullmatch(header.strip()) if header else None
    if match is None:
        raise InvalidSignature
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), match.group(1).lower().encode()):
        raise InvalidSignature
