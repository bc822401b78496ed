"""The project's answer to an error no view handled: JSON, never Django's HTML page."""

import sys

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

from core.database import database_unavailable
from core.exceptions import ServiceUnavailable


def server_error(request: HttpRequest) -> JsonResponse:
    """Answer 503 ``service_unavailable`` when the database failed, else 500.

    Django calls this ``handler500`` inside its ``except`` block, for errors
    raised outside DRF's views: in a middleware (the idempotency layer's
    transaction, the session), or in a plain Django view such as the admin.
    """
    if database_unavailable(sys.exc_info()[1]):
        error = ServiceUnavailable()
        return JsonResponse(
            {"detail": str(error.detail), "code": error.default_code},
            status=error.status_code,
            headers={"Retry-After": str(error.wait)},
        )
    return JsonResponse(
        {"detail": _("A server error occurred."), "code": "server_error"}, status=500
    )
