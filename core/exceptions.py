"""Errors that several apps share."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class PayloadTooLarge(APIException):
    """A request body, or an uploaded file, is larger than the server accepts."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = _("The request body is too large.")


class ClientIdMismatch(APIException):
    """A ``client_id`` was sent again with another payload."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "client_id_mismatch"
    default_detail = _("This client_id was already used with a different payload.")


class ServiceUnavailable(APIException):
    """The database is unreachable, restarting, out of connections, or too slow.

    Nothing was written: the request's transaction rolled back. The client may
    send the same request again after ``Retry-After`` seconds.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = _("The service is unavailable for a moment; try again shortly.")
    wait = 5  # seconds; DRF's handler turns it into Retry-After
