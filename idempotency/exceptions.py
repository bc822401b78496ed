"""Errors of the Idempotency-Key layer, each one problem type with a stable code."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class KeyInvalid(APIException):
    """The Idempotency-Key header is malformed, or two key headers disagree."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_invalid"
    default_detail = _(
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters."
    )


class KeyRequired(APIException):
    """The operation requires an Idempotency-Key header and none was sent."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_required"
    default_detail = _("This operation requires an Idempotency-Key header.")


class KeyMismatch(APIException):
    """The key was already used with another request (method, path or payload)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_mismatch"
    default_detail = _("This Idempotency-Key was already used with another request.")


class KeyInUse(APIException):
    """A request with the same key is still in progress; retry after ``wait`` seconds."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = _("A request with this Idempotency-Key is still in progress.")

    def __init__(self, *, wait: int = 1) -> None:
        super().__init__()
        # DRF's exception handler turns ``wait`` into the Retry-After header.
        self.wait = wait
