"""OpenAPI: the schema of DRF's field errors, derived from an input serializer."""

from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings

MESSAGES = {"type": "array", "items": {"type": "string"}}


def errors_of(field: serializers.Field) -> dict[str, Any]:
    """Return the schema of the errors DRF reports for one field."""
    if isinstance(field, serializers.ListSerializer):
        # Item errors by position ({} for a valid item), or about the list as a whole.
        return {
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "anyOf": [{"type": "string"}, errors_object(field.child)]
                    },
                },
                errors_object(serializers.Serializer()),
            ]
        }
    if isinstance(field, serializers.Serializer):
        return {"anyOf": [MESSAGES, errors_object(field)]}
    if isinstance(field, serializers.ListField | serializers.DictField):
        # Errors of the items, keyed by their index (a list) or key (a dict).
        by_item = {"type": "object", "additionalProperties": errors_of(field.child)}
        return {"anyOf": [MESSAGES, by_item]}
    return MESSAGES


def errors_object(serializer: serializers.Serializer) -> dict[str, Any]:
    """Return the schema of a serializer's field errors: one property per writable field."""
    properties = {
        name: errors_of(field)
        for name, field in serializer.fields.items()
        if not field.read_only
    }
    properties[api_settings.NON_FIELD_ERRORS_KEY] = MESSAGES
    return {"type": "object", "properties": properties, "additionalProperties": False}
