"""Configuration of the events app."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Events of users and orders, for the broker and for outgoing webhooks."""

    name = "events"
    verbose_name = "Events and outgoing webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import metrics  # noqa: F401  registers the gauge
