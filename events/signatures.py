"""The ``Idem-Signature`` header of outgoing webhooks: signing, and verifying as a receiver."""

import hashlib
import hmac
import time

#: Seconds a receiver accepts a signature's timestamp to be away from its clock.
TOLERANCE_SECONDS = 300


def signature_header(*, body: bytes, secret: str, timestamp: int) -> str:
    """Return ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    body: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Return whether ``header`` signs ``body`` under ``secret`` at a recent time.

    What a receiver runs on the raw request body: the timestamp must be
    within ``tolerance`` seconds of ``now`` (a replayed old request fails),
    and one ``v1`` value must match, compared in constant time.
    """
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature_header(body=body, secret=secret, timestamp=timestamp)
    expected_digest = expected.rpartition("v1=")[2]
    return any(
        hmac.compare_digest(expected_digest, given) for given in fields.get("v1", [])
    )
