"""The middleware that runs each view under the key layer in one transaction with its key."""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.exceptions import APIException

from idempotency import metrics, store
from idempotency.drf.claims import claim_request
from idempotency.drf.payload import django_payload
from idempotency.drf.replies import Replay, error_response, replay_response, reply_of
from idempotency.drf.scope import (
    ATTEMPT_ATTR,
    GUARDED_ATTR,
    governs,
    is_drf_view,
    view_class_of,
)
from idempotency.records import Attempt


class IdempotencyMiddleware:
    """Run each view under the layer in one transaction with its key; store 2xx only.

    Add it to MIDDLEWARE after AuthenticationMiddleware and after every
    middleware with a ``process_view`` that must run (CsrfViewMiddleware):
    its own ``process_view`` calls the view, inside one
    ``transaction.atomic()``, for the DRF views under the configured prefixes
    and the views that opted in (``scope.governs``). A 2xx reply to a request
    that claimed its key is recorded with the work it did; a 3xx keeps its
    work and releases the key; a 4xx or 5xx rolls the whole transaction back,
    which also releases the key. Other views are left to Django.

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
        if not governs(request, view):
            return None
        return _run_view(request, view, args, kwargs)

    async def _process_view_async(
        self,
        request: HttpRequest,
        view: Callable[..., HttpResponseBase],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if not governs(request, view):
            return None
        return await sync_to_async(_run_view, thread_sensitive=True)(
            request, view, args, kwargs
        )


def _settle(request: HttpRequest, response: HttpResponseBase, using: str) -> str | None:
    """Record or release the request's key as its reply says; return the outcome."""
    attempt: Attempt | None = getattr(request, ATTEMPT_ATTR, None)
    status = response.status_code
    if not 200 <= status < 400:
        transaction.set_rollback(True, using=using)
    elif attempt is not None and not transaction.get_rollback(using=using):
        if status < 300 and isinstance(response, HttpResponse):
            store.record(attempt, reply_of(response))
            return "created"
        # A redirect is not a stored reply, and a streamed body cannot be
        # stored: keep the work, not the key.
        store.release(attempt)
    # A claimed key is released unless the reply is recorded.
    return None if attempt is None else "released"


def _claimed_by_django_view(
    request: HttpRequest, view: Callable[..., HttpResponseBase]
) -> HttpResponse | None:
    """Claim the key of a plain Django view that opted in; return the error, if any.

    A DRF view's key is claimed by the gate, once DRF has authenticated the
    request; a plain view's by the user Django's middleware authenticated.
    """
    if is_drf_view(view):
        return None
    try:
        claim_request(
            request,
            method=request.method or "",
            user=getattr(request, "user", None),
            view=view_class_of(view) or view,
            payload=lambda: django_payload(request),
        )
    except APIException as exc:
        return error_response(exc)
    return None


def _run_view(
    request: HttpRequest,
    view: Callable[..., HttpResponseBase],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> HttpResponseBase:
    """Call and render the view in one transaction; record or roll back its reply."""
    using = store.database_alias()
    with transaction.atomic(using=using):
        setattr(request, GUARDED_ATTR, True)
        try:
            response = _claimed_by_django_view(request, view) or view(
                request, *args, **kwargs
            )
        except Replay as replay:
            return replay_response(replay.reply)
        if response is None:
            raise ValueError(f"The view {view!r} returned None, not a response.")
        if callable(getattr(response, "render", None)):
            # Rendered here, so the reply can be stored in this transaction.
            response = response.render()
        outcome = _settle(request, response, using)
    if outcome is not None:
        metrics.outcome(outcome)
    return response
