"""Configuration of the orders app."""

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """The orders app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"
