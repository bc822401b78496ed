"""The HTTP layer: a DRF gate that claims keys, a middleware that owns the transaction.

DRF has no hook that both runs after authentication and wraps the handler, so
the layer comes in two pieces. ``IdempotencyMiddleware`` runs the view of
every unsafe request under the configured prefixes in one
``transaction.atomic()`` and, once the response is rendered, stores a 2xx
reply or rolls everything back. ``IdempotencyGate``, installed as a DRF throttle because throttles are
checked last in ``APIView.initial()`` (after authentication and permissions),
turns the request into an ``Attempt`` and claims its key, so the principal is
the user DRF authenticated, token users included.
"""

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from rest_framework.throttling import BaseThrottle

from idempotency import metrics, store
from idempotency.conf import fingerprint_secret, idempotency_settings
from idempotency.exceptions import KeyInUse, KeyInvalid, KeyMismatch, KeyRequired
from idempotency.fingerprint import (
    FilePart,
    InvalidKey,
    body_payload,
    data_payload,
    form_payload,
    key_digest,
    key_from_headers,
    request_fingerprint,
)
from idempotency.records import NO_OWNER, Attempt, Reply

if TYPE_CHECKING:
    # Imported for annotations only: DRF imports this module while it defines
    # APIView (the gate is in DEFAULT_THROTTLE_CLASSES).
    from rest_framework.request import Request
    from rest_framework.views import APIView


REPLAYED_HEADER = "Idempotent-Replayed"
# Set on the Django HttpRequest: by the middleware when it opened the
# transaction, by the gate when the request claimed its key.
_GUARDED_ATTR = "_idempotency_guarded"
_ATTEMPT_ATTR = "_idempotency_attempt"


class _Replay(Exception):
    """Raised by the gate to hand a stored reply to the middleware.

    Not an APIException: DRF re-raises it out of the view, to the middleware
    that called the view, and the view's handler never runs.
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def applies_to(method: str, path: str) -> bool:
    """Return whether a request with this method and path is under the layer."""
    return method in idempotency_settings.METHODS and path.startswith(
        tuple(idempotency_settings.PATH_PREFIXES)
    )


def owner_of(user: Any) -> int:
    """Return the owner a key belongs to: the user's id, or ``NO_OWNER`` for anonymous."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return NO_OWNER
    return int(user.pk)


def _file_digest(upload: Any) -> str:
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


def _parsed_payload(request: "Request") -> bytes:
    """Return the canonical payload of the body DRF parsed (multipart, or read early)."""
    data = request.data
    if not hasattr(data, "lists"):
        return data_payload(data)
    fields = [
        (name, value) for name, values in request.POST.lists() for value in values
    ]
    files = [
        FilePart(field=name, filename=upload.name or "", sha256=_file_digest(upload))
        for name, uploads in request.FILES.lists()
        for upload in uploads
    ]
    return form_payload(fields=fields, files=files)


def _payload(request: "Request") -> bytes:
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
    if len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        # Django checks the declared length only; a body without one (chunked)
        # is checked here. The exception handler answers 413, as for Django's.
        raise RequestDataTooBig(
            "The request body exceeded DATA_UPLOAD_MAX_MEMORY_SIZE."
        )
    return body_payload(content_type=content_type, body=body)


def _allows(view: "APIView", method: str) -> bool:
    """Return whether the view has a handler for ``method``, as DRF's dispatch asks.

    A method the view does not allow is DRF's 405, key or not: the gate leaves
    it alone rather than answer for a key the request could never have used.
    """
    name = method.lower()
    return name in view.http_method_names and hasattr(view, name)


def _requires_key(view: "APIView", path: str) -> bool:
    """Return whether the view, or the settings for its path, require a key."""
    return getattr(view, "idempotency_key_required", False) or path.startswith(
        tuple(idempotency_settings.REQUIRED_PATH_PREFIXES)
    )


def _key(request: "Request") -> str | None:
    alias = idempotency_settings.ALIAS_HEADER
    try:
        return key_from_headers(
            request.headers.get(idempotency_settings.HEADER),
            request.headers.get(alias) if alias else None,
        )
    except InvalidKey as exc:
        metrics.outcome("invalid")
        raise KeyInvalid from exc


class IdempotencyGate(BaseThrottle):
    """Claim the request's Idempotency-Key once DRF has authenticated the request.

    A DRF throttle that never throttles: ``check_throttles()`` is the last step
    of ``APIView.initial()``, so the principal is known and the permission
    checks passed. A stored reply is handed to the middleware; otherwise the
    request goes on to its handler and owns the key.

    A view may set ``idempotency_key_required = True`` (no key is 400),
    ``idempotency_ttl_seconds`` and ``idempotency_in_flight_wait_seconds``
    (its own ``TTL_SECONDS`` and ``IN_FLIGHT_WAIT_SECONDS``), or
    ``idempotency_exempt = True`` (the gate ignores it).
    """

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        """Claim the key, or raise the stored reply; let every request through."""
        django_request: HttpRequest = request._request
        if (
            getattr(view, "idempotency_exempt", False)
            or not applies_to(request.method or "", request.path_info)
            or not _allows(view, request.method or "")
            or hasattr(django_request, _ATTEMPT_ATTR)
        ):
            return True
        key = _key(request)
        if key is None:
            if _requires_key(view, request.path_info):
                metrics.outcome("required")
                raise KeyRequired
            return True
        if not getattr(django_request, _GUARDED_ATTR, False):
            raise ImproperlyConfigured(
                "An Idempotency-Key arrived but IdempotencyMiddleware is not in "
                "MIDDLEWARE; the key cannot be claimed outside its transaction."
            )
        path = django_request.get_full_path()
        method = request.method or ""
        secret = fingerprint_secret()
        attempt = Attempt(
            owner=owner_of(request.user),
            key=key,
            fingerprint=request_fingerprint(
                method=method, path=path, payload=_payload(request), secret=secret
            ),
            method=method,
            path=path,
        )
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
                raise _Replay(reply)
        finally:
            if outcome is not None:
                metrics.answered(
                    outcome,
                    principal=attempt.principal,
                    key_digest=key_digest(key, secret=secret),
                    method=method,
                    path=path,
                )
        setattr(django_request, _ATTEMPT_ATTR, attempt)
        return True


def _reply_of(response: HttpResponse) -> Reply:
    headers = {
        name: response[name]
        for name in ("Content-Type", "Location")
        if response.has_header(name)
    }
    return Reply(
        status=response.status_code, body=bytes(response.content), headers=headers
    )


def replay_response(reply: Reply) -> HttpResponse:
    """Return the HTTP response that replays a stored reply (a 201 becomes 200)."""
    response = HttpResponse(
        reply.body,
        status=200 if reply.status == 201 else reply.status,
        content_type=reply.headers.get("Content-Type"),
    )
    if "Content-Type" not in reply.headers:
        del response["Content-Type"]  # the first reply had none (a 204)
    if "Location" in reply.headers:
        response["Location"] = reply.headers["Location"]
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotencyMiddleware:
    """Run each view under the layer in one transaction with its key; keep 2xx only.

    Add it to MIDDLEWARE after AuthenticationMiddleware and after every
    middleware with a ``process_view`` that must run (CsrfViewMiddleware):
    its own ``process_view`` calls the view, inside one
    ``transaction.atomic()`` where a 2xx reply to a request that claimed its
    key is recorded with the work it did; any other status rolls the whole
    transaction back, which also releases the key.

    Sync and async capable. Under ASGI the transaction, the view and the
    rendering run in one ``sync_to_async`` call, the one thread hop Django
    makes anyway to run a sync view, so the transaction is on the view's
    thread and connection, and the layer adds no hop.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)
            # Django adapts a sync process_view with its own thread hop.
            self.process_view = self._process_view_async  # type: ignore[method-assign]

    def __call__(self, request: HttpRequest) -> Any:
        """Pass the request on; under ASGI this returns the awaitable response."""
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view: Callable[..., HttpResponseBase],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        """Run the view in the layer's transaction, or leave it to Django."""
        if not _guards(request, view):
            return None
        return _run_view(request, view, args, kwargs)

    async def _process_view_async(
        self,
        request: HttpRequest,
        view: Callable[..., HttpResponseBase],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if not _guards(request, view):
            return None
        return await sync_to_async(_run_view, thread_sensitive=True)(
            request, view, args, kwargs
        )


def _guards(request: HttpRequest, view: Callable[..., HttpResponseBase]) -> bool:
    """Return whether the layer runs ``view`` for ``request`` in its transaction.

    An exempt view runs outside it, so what it writes on a non-2xx reply (a
    failed login's count) is kept.
    """
    return applies_to(request.method or "", request.path_info) and not getattr(
        getattr(view, "cls", None), "idempotency_exempt", False
    )


def _run_view(
    request: HttpRequest,
    view: Callable[..., HttpResponseBase],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> HttpResponseBase:
    """Call and render the view in one transaction; record or roll back its reply."""
    using = store.database_alias()
    with transaction.atomic(using=using):
        setattr(request, _GUARDED_ATTR, True)
        try:
            response = view(request, *args, **kwargs)
        except _Replay as replay:
            return replay_response(replay.reply)
        if response is None:
            raise ValueError(f"The view {view!r} returned None, not a response.")
        if callable(getattr(response, "render", None)):
            # Rendered here, so the reply can be stored in this transaction.
            response = response.render()
        attempt: Attempt | None = getattr(request, _ATTEMPT_ATTR, None)
        # A claimed key is released unless the reply is recorded.
        outcome = "released"
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True, using=using)
        elif attempt is not None and not transaction.get_rollback(using=using):
            if isinstance(response, HttpResponse):
                store.record(attempt, _reply_of(response))
                outcome = "created"
            else:
                # A streamed body cannot be stored; keep the work, not the key.
                store.release(attempt)
    if attempt is not None:
        metrics.outcome(outcome)
    return response


__all__ = [
    "REPLAYED_HEADER",
    "IdempotencyGate",
    "IdempotencyMiddleware",
    "applies_to",
    "owner_of",
    "replay_response",
]
