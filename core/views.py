"""Django's error views, answered in the API's JSON shape: never an HTML page for a client."""

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from core.database import database_unavailable
from core.exceptions import ServiceUnavailable

#: The paths of API operations; the admin, /metrics and /healthz are not.
API_PATH_PREFIXES = ("/api/", "/upload")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer 404 ``not_found`` as JSON under the API, Django's page elsewhere.

    A path no URL pattern matches (``/api/orders/0.5/`` against an integer
    id) is answered like a missing object, not with an HTML page.
    """
    if request.path_info.startswith(API_PATH_PREFIXES):
        return JsonResponse(
            {"detail": _("Not found."), "code": "not_found"}, status=404
        )
    return defaults.page_not_found(request, exception)


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
