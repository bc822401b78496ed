"""Configuration of the idempotency app."""

from django.apps import AppConfig
from django.core import checks


class IdempotencyConfig(AppConfig):
    """The Idempotency-Key layer: keys, their stored replies, and their checks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "idempotency"
    verbose_name = "Idempotency keys"

    def ready(self) -> None:
        from idempotency.checks import (
            check_database,
            check_installation,
            check_settings,
            check_views,
        )

        checks.register(check_settings)
        checks.register(check_installation)
        checks.register(check_database)
        checks.register(check_views, checks.Tags.urls)
