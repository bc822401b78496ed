"""Serializer fields that several apps share."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StringField(serializers.CharField):
    """A CharField that takes only strings, where CharField also takes numbers.

    The schema declares these fields ``type: string``; DRF's CharField would
    turn ``42`` into ``"42"``. The OpenAPI schema is CharField's.
    """

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data: Any) -> str:
        """Return the validated string; refuse numbers, booleans and the rest."""
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)
