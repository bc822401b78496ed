"""Configuration of the core app."""

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _key_statements_prepare(sender: Any, connection: Any, **_: Any) -> None:
    """Let the key layer ask whether the database is Citus before any request runs."""
    from idempotency.statements import statements_prepare

    statements_prepare(connection.alias)


class CoreConfig(AppConfig):
    """What the API apps share: error base classes, the create response, the handler."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  registers the connection check
        from core.pooling import connect_if_pooling

        connect_if_pooling()
        connection_created.connect(
            _key_statements_prepare, dispatch_uid="core.key_statements_prepare"
        )
