"""A rendered response as a reply to store, and a stored reply as a response again."""

from django.http import HttpResponse, JsonResponse
from rest_framework.exceptions import APIException

from idempotency.records import Reply

REPLAYED_HEADER = "Idempotent-Replayed"


class Replay(Exception):
    """Raised by the claim to hand a stored reply to the middleware.

    Not an APIException: DRF re-raises it out of the view, to the middleware
    that called the view, and the view's handler never runs.
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def reply_of(response: HttpResponse) -> Reply:
    """Return the reply to store for a rendered response."""
    headers = {
        name: response[name]
        for name in ("Content-Type", "Location")
        if response.has_header(name)
    }
    return Reply(
        status=response.status_code, body=bytes(response.content), headers=headers
    )


def replay_response(reply: Reply) -> HttpResponse:
    """Return the HTTP response that replays a stored reply (a 201 becomes 200)."""
    response = HttpResponse(
        reply.body,
        status=200 if reply.status == 201 else reply.status,
        content_type=reply.headers.get("Content-Type"),
    )
    if "Content-Type" not in reply.headers:
        del response["Content-Type"]  # the first reply had none (a 204)
    if "Location" in reply.headers:
        response["Location"] = reply.headers["Location"]
    response[REPLAYED_HEADER] = "true"
    return response


def error_response(exc: APIException) -> HttpResponse:
    """Return the JSON answer of one of the layer's errors, outside DRF's handler.

    Used for plain Django views that opted in; DRF views get the project's
    exception handler.
    """
    response = JsonResponse(exc.detail, status=exc.status_code)
    wait = getattr(exc, "wait", None)
    if wait:
        response["Retry-After"] = str(wait)
    return response
