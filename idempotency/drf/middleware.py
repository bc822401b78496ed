"""The middleware that runs each view under the key layer in one transaction with its key."""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from idempotency import metrics, store
from idempotency.drf.replies import Replay, replay_response, reply_of
from idempotency.drf.scope import ATTEMPT_ATTR, GUARDED_ATTR, governs
from idempotency.records import Attempt


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
    if not 200 <= response.status_code < 300:
        transaction.set_rollback(True, using=using)
    elif attempt is not None and not transaction.get_rollback(using=using):
        if isinstance(response, HttpResponse):
            store.record(attempt, reply_of(response))
            return "created"
        # A streamed body cannot be stored; keep the work, not the key.
        store.release(attempt)
    # A claimed key is released unless the reply is recorded.
    return None if attempt is None else "released"


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
            response = view(request, *args, **kwargs)
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
