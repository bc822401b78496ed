"""Count every response the web process gives, for ``http_responses_total``."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from observability.metrics import count_response


class ResponseCountMiddleware:
    """Count each response by method and status; put it first in MIDDLEWARE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        count_response(method=request.method or "", status=response.status_code)
        return response
