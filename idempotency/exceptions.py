"""Errors of the Idempotency-Key layer, each one problem type with a stable code."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class IdempotencyError(APIException):
    """An error of the layer whose body carries ``code`` beside ``detail``.

    The code is part of the error's own data, so the answer has it whatever
    exception handler the project uses: DRF's default one renders a dict
    ``detail`` as the body.
    """

    def __init__(self, detail: Any = None, code: str | None = None) -> None:
        code = code or self.default_code
        super().__init__(
            {"detail": detail or self.default_detail, "code": code}, code=code
        )


class KeyInvalid(IdempotencyError):
    """The Idempotency-Key header is malformed, or two key headers disagree."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_invalid"
    default_detail = _(
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters."
    )


class KeyRequired(IdempotencyError):
    """The operation requires an Idempotency-Key header and none was sent."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_required"
    default_detail = _("This operation requires an Idempotency-Key header.")


class KeyMismatch(IdempotencyError):
    """The key was already used with another request (method, path or payload)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_mismatch"
    default_detail = _("This Idempotency-Key was already used with another request.")


class KeyInUse(IdempotencyError):
    """A request with the same key is still in progress; retry after ``wait`` seconds."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = _("A request with this Idempotency-Key is still in progress.")

    def __init__(self, *, wait: int = 1) -> None:
        super().__init__()
        # DRF's exception handler turns ``wait`` into the Retry-After header.
        self.wait = wait
