"""System checks for the webhooks app's settings."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def webhook_secret_check(**kwargs: Any) -> list[CheckMessage]:
    """Refuse to start without a signing secret: an empty key signs anything."""
    secret = getattr(settings, "WEBHOOK_SECRET", None)
    if isinstance(secret, str) and secret:
        return []
    return [
        Error(
            "WEBHOOK_SECRET must be a non-empty string.",
            hint="Set the WEBHOOK_SECRET environment variable to the provider's secret.",
            id="webhooks.E001",
        )
    ]
