"""Configuration of the core app."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What the API apps share: error base classes, the create response, the handler."""

    name = "core"
    verbose_name = "Core"
