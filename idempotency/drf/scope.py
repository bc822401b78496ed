"""Which requests and views are under the key layer, and the marks it leaves on a request."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from idempotency.conf import idempotency_settings

#: Set on a DRF view class: the layer leaves the view alone, so what it
#: writes on a non-2xx reply (a failed login's count) is kept and its reply
#: (a credential) is never stored.
EXEMPT_ATTR = "idempotency_exempt"
# Set on the Django HttpRequest: by the middleware when it opened the
# transaction, by the claim when the request claimed its key.
GUARDED_ATTR = "_idempotency_guarded"
ATTEMPT_ATTR = "_idempotency_attempt"


def applies_to(method: str, path: str) -> bool:
    """Return whether a request with this method and path is under the layer."""
    return method in idempotency_settings.METHODS and path.startswith(
        tuple(idempotency_settings.PATH_PREFIXES)
    )


def governs(request: HttpRequest, view: Callable[..., Any]) -> bool:
    """Return whether the middleware runs ``view`` for ``request`` in its transaction."""
    return applies_to(request.method or "", request.path_info) and not getattr(
        getattr(view, "cls", None), EXEMPT_ATTR, False
    )
