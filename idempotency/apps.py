"""Configuration of the idempotency app."""

from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    """The idempotency app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "idempotency"
