"""Configuration of the observability app."""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Prometheus metrics at /metrics and the health check at /healthz."""

    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from observability import checks, metrics  # noqa: F401  registers both
