"""The Idem Django project: settings, URLs, the WSGI/ASGI and Celery entry points."""

from idem_project.celery import app as celery_app

__all__ = ["celery_app"]
