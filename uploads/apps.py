"""Configuration of the uploads app."""

from django.apps import AppConfig


class UploadsConfig(AppConfig):
    """The uploads app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "uploads"
