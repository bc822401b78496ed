"""Which requests and views are under the key layer, and the marks it leaves on a request."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest

from idempotency.conf import idempotency_settings

#: Set by ``idempotent_view`` on a view function or class: the layer governs
#: it wherever it is mounted, for the configured methods.
OPT_IN_ATTR = "idempotency_opt_in"
#: Set on a DRF view class: the layer leaves the view alone, so what it
#: writes on a non-2xx reply (a failed login's count) is kept and its reply
#: (a credential) is never stored.
EXEMPT_ATTR = "idempotency_exempt"
# Set on the Django HttpRequest: by the middleware when it opened the
# transaction, by the claim when the request claimed its key.
GUARDED_ATTR = "_idempotency_guarded"
ATTEMPT_ATTR = "_idempotency_attempt"

V = TypeVar("V", bound=Callable[..., Any])


def applies_to(method: str, path: str) -> bool:
    """Return whether a request with this method and path is under the layer."""
    return method in idempotency_settings.METHODS and path.startswith(
        tuple(idempotency_settings.PATH_PREFIXES)
    )


def is_drf_view(view: Callable[..., Any]) -> bool:
    """Return whether ``view`` is the function of a DRF view (``as_view()``, ``@api_view``)."""
    # Imported here: DRF imports this package while it defines APIView.
    from rest_framework.views import APIView

    view_class = getattr(view, "cls", None)  # set by APIView and ViewSet as_view()
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def view_class_of(view: Callable[..., Any]) -> Any:
    """Return the class a view function was made from by ``as_view()``, or None."""
    return getattr(view, "cls", None) or getattr(view, "view_class", None)


def governs(request: HttpRequest, view: Callable[..., Any]) -> bool:
    """Return whether the middleware runs ``view`` for ``request`` in its transaction.

    It runs DRF views under the configured prefixes, except exempt ones, and
    views that opted in with ``idempotent_view``, anywhere. A plain Django
    view that did not opt in is left to Django: the layer never rolls back
    what it writes.
    """
    if (request.method or "") not in idempotency_settings.METHODS:
        return False
    view_class = view_class_of(view)
    if getattr(view_class, EXEMPT_ATTR, False):
        return False
    if getattr(view, OPT_IN_ATTR, False) or getattr(view_class, OPT_IN_ATTR, False):
        return True
    return request.path_info.startswith(
        tuple(idempotency_settings.PATH_PREFIXES)
    ) and is_drf_view(view)


def idempotent_view(view: V) -> V:
    """Put ``view`` (a function, a Django or DRF view class) under the layer anywhere.

    The layer runs it in its transaction for the configured methods, claims
    the request's key (for ``request.user``; a DRF view's key is claimed by
    the gate, after DRF's authentication), stores a 2xx reply, keeps the work
    of a 3xx and rolls back a 4xx or 5xx. The per-view options of a DRF view
    (``idempotency_key_required``, ``idempotency_ttl_seconds``,
    ``idempotency_in_flight_wait_seconds``) may be set on a function too.
    """
    setattr(view, OPT_IN_ATTR, True)
    return view
