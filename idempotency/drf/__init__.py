"""The key layer's HTTP side: a DRF gate that claims keys, a middleware that owns the transaction.

DRF has no hook that both runs after authentication and wraps the handler, so
the layer comes in two pieces. ``IdempotencyMiddleware`` (``middleware.py``)
runs each view under the layer in one ``transaction.atomic()`` and, once the
response is rendered, stores a 2xx reply or rolls the work back.
``IdempotencyGate`` (``gate.py``), installed as a DRF throttle because
throttles are checked last in ``APIView.initial()`` (after authentication and
permissions), claims the request's key (``claims.py``), so the principal is
the user DRF authenticated, token users included. ``scope.py`` says which
requests and views are under the layer, ``payload.py`` reads a request's
body, ``replies.py`` turns a response into a stored reply and back.
"""

from idempotency.drf.claims import owner_of
from idempotency.drf.gate import IdempotencyGate
from idempotency.drf.middleware import IdempotencyMiddleware
from idempotency.drf.replies import REPLAYED_HEADER, replay_response
from idempotency.drf.scope import applies_to, idempotent_view

__all__ = [
    "REPLAYED_HEADER",
    "IdempotencyGate",
    "IdempotencyMiddleware",
    "applies_to",
    "idempotent_view",
    "owner_of",
    "replay_response",
]
