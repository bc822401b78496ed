"""The HTTP layer: a DRF gate that claims keys, a middleware that owns the transaction.

DRF has no hook that both runs after authentication and wraps the handler, so
the layer comes in two pieces. ``IdempotencyMiddleware`` runs every unsafe
request under the configured prefixes in one ``transaction.atomic()`` and,
once the rendered response is back, stores a 2xx reply or rolls everything
back. ``IdempotencyGate``, installed as a DRF throttle because throttles are
checked last in ``APIView.initial()`` (after authentication and permissions),
turns the request into an ``Attempt`` and claims its key, so the principal is
the user DRF authenticated, token users included.
"""

import hashlib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import (
    ImproperlyConfigured,
    RequestDataTooBig,
)
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from django.urls import Resolver404, resolve
from rest_framework.throttling import BaseThrottle

from idempotency import store
from idempotency.conf import idempotency_settings
from idempotency.exceptions import BodyTooLarge, KeyInvalid
from idempotency.fingerprint import (
    FilePart,
    InvalidKey,
    body_payload,
    data_payload,
    form_payload,
    key_from_headers,
    request_fingerprint,
)

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

    Not an APIException: DRF re-raises it, so the middleware's
    ``process_exception`` receives it and the view never runs.
    """

    def __init__(self, reply: store.Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def applies_to(method: str, path: str) -> bool:
    """Return whether a request with this method and path is under the layer."""
    return method in idempotency_settings.METHODS and path.startswith(
        tuple(idempotency_settings.PATH_PREFIXES)
    )


def principal_of(user: Any) -> str:
    """Return the principal a key belongs to: ``"user:<pk>"`` or ``"anonymous"``."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return store.ANONYMOUS_PRINCIPAL
    return store.user_principal(user.pk)


def _file_digest(upload: Any) -> str:
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
    except RequestDataTooBig as exc:
        raise BodyTooLarge from exc
    except RawPostDataException:
        # Parsed before the gate ran: session authentication's CSRF check reads
        # request.POST, which makes DRF parse the body from the stream.
        return _parsed_payload(request)
    if len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise BodyTooLarge
    return body_payload(content_type=content_type, body=body)


def _key(request: "Request") -> str | None:
    alias = idempotency_settings.ALIAS_HEADER
    try:
        return key_from_headers(
            request.headers.get(idempotency_settings.HEADER),
            request.headers.get(alias) if alias else None,
        )
    except InvalidKey as exc:
        raise KeyInvalid from exc


class IdempotencyGate(BaseThrottle):
    """Claim the request's Idempotency-Key once DRF has authenticated the request.

    A DRF throttle that never throttles: ``check_throttles()`` is the last step
    of ``APIView.initial()``, so the principal is known and the permission
    checks passed. A stored reply is handed to the middleware; otherwise the
    request goes on to its handler and owns the key.
    """

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        """Claim the key, or raise the stored reply; let every request through."""
        django_request: HttpRequest = request._request
        if (
            getattr(view, "idempotency_exempt", False)
            or not applies_to(request.method or "", request.path_info)
            or hasattr(django_request, _ATTEMPT_ATTR)
        ):
            return True
        key = _key(request)
        if key is None:
            return True
        if not getattr(django_request, _GUARDED_ATTR, False):
            raise ImproperlyConfigured(
                "An Idempotency-Key arrived but IdempotencyMiddleware is not in "
                "MIDDLEWARE; the key cannot be claimed outside its transaction."
            )
        path = django_request.get_full_path()
        method = request.method or ""
        attempt = store.Attempt(
            principal=principal_of(request.user),
            key=key,
            fingerprint=request_fingerprint(
                method=method, path=path, payload=_payload(request)
            ),
            method=method,
            path=path,
        )
        reply = store.claim(attempt)
        if reply is not None:
            raise _Replay(reply)
        setattr(django_request, _ATTEMPT_ATTR, attempt)
        return True


def _reply_of(response: HttpResponse) -> store.Reply:
    headers = {
        name: response[name]
        for name in ("Content-Type", "Location")
        if response.has_header(name)
    }
    return store.Reply(
        status=response.status_code, body=bytes(response.content), headers=headers
    )


def replay_response(reply: store.Reply) -> HttpResponse:
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


def _exempt(request: HttpRequest) -> bool:
    """Return whether the view at the request's path sets ``idempotency_exempt``.

    Such a view runs outside the layer's transaction, so what it writes on a
    non-2xx reply (a failed login's count) is kept.
    """
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return False
    return getattr(getattr(view, "cls", None), "idempotency_exempt", False)


class IdempotencyMiddleware:
    """Run each unsafe request under the layer in one transaction; keep 2xx only.

    Add it to MIDDLEWARE after AuthenticationMiddleware. Inside the one
    ``transaction.atomic()``, a 2xx reply to a request that claimed its key is
    recorded with the work it did; any other status rolls the whole
    transaction back, which also releases the key.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not applies_to(request.method or "", request.path_info) or _exempt(request):
            return self.get_response(request)
        using = store.database_alias()
        with transaction.atomic(using=using):
            setattr(request, _GUARDED_ATTR, True)
            response = self.get_response(request)
            attempt: store.Attempt | None = getattr(request, _ATTEMPT_ATTR, None)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True, using=using)
            elif attempt is not None and not transaction.get_rollback(using=using):
                if isinstance(response, HttpResponse):
                    store.record(attempt, _reply_of(response))
                else:
                    # A streamed body cannot be stored; keep the work, not the key.
                    store.release(attempt)
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        """Turn the gate's stored reply into the replayed response."""
        if isinstance(exception, _Replay):
            return replay_response(exception.reply)
        return None


__all__ = [
    "REPLAYED_HEADER",
    "IdempotencyGate",
    "IdempotencyMiddleware",
    "applies_to",
    "principal_of",
    "replay_response",
]
