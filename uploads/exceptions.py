"""Errors of the uploads app."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class FilenameTaken(APIException):
    """The owner already has a photo with this filename and other content."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "filename_taken"
    default_detail = _(
        "You already have a photo with this filename and a different caption or file."
    )
