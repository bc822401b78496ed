"""A request's key claimed: the header read, the attempt built, the store asked, the answer counted."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from idempotency import metrics, store
from idempotency.conf import fingerprint_secrets, idempotency_settings
from idempotency.drf.replies import Replay
from idempotency.drf.scope import ATTEMPT_ATTR, GUARDED_ATTR
from idempotency.exceptions import KeyInUse, KeyInvalid, KeyMismatch, KeyRequired
from idempotency.fingerprint import (
    InvalidKey,
    key_digest,
    key_from_headers,
    request_fingerprints,
)
from idempotency.records import NO_OWNER, Attempt


def owner_of(user: Any) -> int:
    """Return the owner a key belongs to: the user's id, or ``NO_OWNER`` for anonymous."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return NO_OWNER
    return int(user.pk)


def _key(request: HttpRequest) -> str | None:
    alias = idempotency_settings.ALIAS_HEADER
    try:
        return key_from_headers(
            request.headers.get(idempotency_settings.HEADER),
            request.headers.get(alias) if alias else None,
        )
    except InvalidKey as exc:
        metrics.outcome("invalid")
        raise KeyInvalid from exc


def _requires_key(view: Any, path: str) -> bool:
    """Return whether the view, or the settings for its path, require a key."""
    return getattr(view, "idempotency_key_required", False) or path.startswith(
        tuple(idempotency_settings.REQUIRED_PATH_PREFIXES)
    )


def _claim(attempt: Attempt, view: Any, *, secret: bytes) -> None:
    """Claim the attempt's key; raise Replay, KeyMismatch or KeyInUse, counted."""
    outcome = None
    try:
        reply = store.claim(
            attempt,
            ttl_seconds=getattr(view, "idempotency_ttl_seconds", None),
            wait_seconds=getattr(view, "idempotency_in_flight_wait_seconds", None),
        )
    except KeyMismatch:
        outcome = "mismatch"
        raise
    except KeyInUse:
        outcome = "in_use"
        raise
    else:
        if reply is not None:
            outcome = "replayed"
            raise Replay(reply)
    finally:
        if outcome is not None:
            metrics.answered(
                outcome,
                principal=attempt.principal,
                key_digest=lambda: key_digest(attempt.key, secret=secret),
                method=attempt.method,
                path=attempt.path,
            )


def claim_request(
    request: HttpRequest,
    *,
    method: str,
    user: Any,
    view: Any,
    payload: Callable[[], bytes],
) -> None:
    """Claim the request's key for ``user``, if it carries one; note the attempt on it.

    ``view`` is what the per-view options are read from; ``payload`` returns
    the canonical body, read only when a key arrived. Raise KeyInvalid,
    KeyRequired, KeyMismatch or KeyInUse, or Replay with the stored reply.
    """
    key = _key(request)
    if key is None:
        if _requires_key(view, request.path_info):
            metrics.outcome("required")
            raise KeyRequired
        return
    if not getattr(request, GUARDED_ATTR, False):
        raise ImproperlyConfigured(
            "An Idempotency-Key arrived but IdempotencyMiddleware is not in "
            "MIDDLEWARE; the key cannot be claimed outside its transaction."
        )
    path = request.get_full_path()
    secrets = fingerprint_secrets()
    secret = secrets[0]
    fingerprint, *fallbacks = request_fingerprints(
        method=method, path=path, payload=payload(), secrets=secrets
    )
    attempt = Attempt(
        owner=owner_of(user),
        key=key,
        fingerprint=fingerprint,
        method=method,
        path=path,
        fallback_fingerprints=tuple(fallbacks),
    )
    _claim(attempt, view, secret=secret)
    setattr(request, ATTEMPT_ATTR, attempt)
