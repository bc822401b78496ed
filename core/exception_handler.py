"""The project's single DRF exception handler."""

from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.database import database_unavailable
from core.exceptions import PayloadTooLarge, ServiceUnavailable


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Delegate to DRF, then put the stable ``code`` beside every ``detail``.

    Django's own request-size errors are bad input, not bugs: like DRF does for
    ``Http404``, they become the API errors a client can act on (413, 400). So
    does a database that cannot serve the request now (503, with Retry-After);
    any other database error stays a bug.
    """
    if database_unavailable(exc):
        exc = ServiceUnavailable()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = ParseError(str(exc))
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        if detail is not None:
            response.data["code"] = getattr(detail, "code", "error")
    return response
