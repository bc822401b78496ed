"""Configuration of the core app."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What the API apps share: error base classes, the create response, the handler."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  registers the connection check
        from core.pooling import connect_if_pooling

        connect_if_pooling()
