"""Configuration of the consumers app."""

from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    """The consumers app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "consumers"
