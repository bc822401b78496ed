"""Configuration of the outbox app."""

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Messages written in the caller's transaction and delivered after its commit."""

    name = "outbox"
    verbose_name = "Outbox"
    default_auto_field = "django.db.models.BigAutoField"
