"""Errors of the orders app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

from core.exceptions import ClientIdMismatch

__all__ = ["ClientIdMismatch", "InvalidTransition"]


class InvalidTransition(APIException):
    """The order's state machine does not allow this move from its current status."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "invalid_transition"
    default_detail = _("The order cannot move to this status from its current one.")
