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
