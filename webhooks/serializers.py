"""The shape of a provider event, from raw bytes to validated fields, and the reply."""

import json
import math
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ParseError

from core.fields import StringField
from webhooks.models import WebhookEvent


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"{token} is out of range")
    return value


def _storable(value: Any) -> bool:
    """Return whether every string in ``value`` can be stored in a JSON column.

    PostgreSQL's jsonb refuses NUL characters, and no database takes a string
    with an unpaired surrogate. The walk is iterative: the JSON may be as deep
    as the decoder allows.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
    return True


def event_body_parse(body: bytes) -> Any:
    """Return the JSON value in ``body``.

    Raise ParseError for anything that is not strict JSON (``NaN`` and
    infinities included) or that holds strings no database column accepts.
    """
    try:
        data = json.loads(
            body, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError) as exc:
        raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
    if not _storable(data):
        raise ParseError(
            _("Strings must not contain NUL characters or unpaired surrogates.")
        )
    return data


class PaymentEventSerializer(serializers.Serializer):
    """A provider event: ``{id, type, data}``; ``data`` is read by the event's handler."""

    id = StringField(max_length=255, trim_whitespace=False)
    type = StringField(max_length=255, trim_whitespace=False)
    data = serializers.JSONField(required=False)


class WebhookEventResultSerializer(serializers.ModelSerializer):
    """The answer to a delivery: the stored event, and whether it was seen before."""

    id = serializers.CharField(source="event_id")
    duplicate = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "outcome", "reason", "duplicate"]
        read_only_fields = fields

    def get_duplicate(self, event: WebhookEvent) -> bool:
        return bool(self.context.get("duplicate", False))
