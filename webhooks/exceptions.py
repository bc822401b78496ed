"""Errors of the webhooks app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class InvalidSignature(APIException):
    """The ``X-Signature`` header is missing, malformed or does not match the body.

    It is an APIException of its own rather than AuthenticationFailed: DRF turns
    the latter into 403 on a view without authenticators.
    """

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_signature"
    default_detail = _(
        "The X-Signature header is missing or does not match the request body."
    )
    # DRF's exception handler sends it as the WWW-Authenticate header.
    auth_header = 'Signature header="X-Signature", algorithm="hmac-sha256"'
