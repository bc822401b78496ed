"""Input and output shapes of /api/webhook-endpoints/."""

from typing import Any

from rest_framework import serializers

from events.addresses import UnsafeURL, url_resolve
from events.conf import events_settings
from events.models import Event, WebhookEndpoint

EVENT_CHOICES = ["*", *Event.Type.values]


def _checked_url(value: str) -> str:
    try:
        url_resolve(value, allow_private=events_settings.WEBHOOK_ALLOW_PRIVATE)
    except UnsafeURL as exc:
        raise serializers.ValidationError(str(exc)) from exc
    return value


def _checked_events(value: list[str]) -> list[str]:
    if "*" in value and len(value) > 1:
        raise serializers.ValidationError('"*" stands alone: it means every type.')
    return list(dict.fromkeys(value))


class WebhookEndpointCreateSerializer(serializers.Serializer):
    """A new endpoint: where to POST, and which event types (or ``["*"]``)."""

    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
    )

    def validate_url(self, value: str) -> str:
        """Refuse URLs that are not http(s) or whose host is not public."""
        return _checked_url(value)

    def validate_events(self, value: list[str]) -> list[str]:
        """Refuse ``"*"`` beside other types; keep each type once."""
        return _checked_events(value)


class WebhookEndpointUpdateSerializer(WebhookEndpointCreateSerializer):
    """A change of an endpoint: any of url, events and enabled."""

    enabled = serializers.BooleanField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as the API shows it: never its secret."""

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "enabled", "created_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """A new endpoint with its signing secret, shown in this answer only."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields
