"""Django's error views, answered in the API's JSON shape under the API's paths."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

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
