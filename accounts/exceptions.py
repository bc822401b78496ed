"""Errors of the accounts app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from core.exceptions import ClientIdMismatch

__all__ = ["BadCredentials", "ClientIdMismatch", "EmailTaken"]


class EmailTaken(ValidationError):
    """Another user already signed up with this e-mail (compared without case)."""

    def __init__(self) -> None:
        super().__init__(
            {"email": [_("A user with this e-mail already exists.")]},
            code="email_taken",
        )


class BadCredentials(APIException):
    """The e-mail and password do not match an active user."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_credentials"
    default_detail = _("Unable to log in with the provided credentials.")
