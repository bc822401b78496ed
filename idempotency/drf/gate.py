"""The DRF throttle that claims a request's key once DRF has authenticated it."""

from typing import TYPE_CHECKING

from rest_framework.throttling import BaseThrottle

from idempotency.drf.claims import claim_request
from idempotency.drf.payload import request_payload
from idempotency.drf.scope import ATTEMPT_ATTR, EXEMPT_ATTR, GUARDED_ATTR, applies_to

if TYPE_CHECKING:
    # Imported for annotations only: DRF imports this module while it defines
    # APIView (the gate is in DEFAULT_THROTTLE_CLASSES).
    from rest_framework.request import Request
    from rest_framework.views import APIView


def _allows(view: "APIView", method: str) -> bool:
    """Return whether the view has a handler for ``method``, as DRF's dispatch asks.

    A method the view does not allow is DRF's 405, key or not: the gate leaves
    it alone rather than answer for a key the request could never have used.
    """
    name = method.lower()
    return name in view.http_method_names and hasattr(view, name)


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
        method = request.method or ""
        django_request = request._request
        if (
            getattr(view, EXEMPT_ATTR, False)
            # Under the prefixes, or opted in and so run by the middleware.
            or not (
                getattr(django_request, GUARDED_ATTR, False)
                or applies_to(method, request.path_info)
            )
            or not _allows(view, method)
            or hasattr(django_request, ATTEMPT_ATTR)
        ):
            return True
        claim_request(
            django_request,
            method=method,
            user=request.user,
            view=view,
            payload=lambda: request_payload(request),
        )
        return True
