"""Configuration of the accounts app."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The accounts app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
