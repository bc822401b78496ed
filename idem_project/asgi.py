"""ASGI entry point: ``uvicorn idem_project.asgi:application``."""

from django.core.asgi import get_asgi_application

from idem_project.startup import settings_or_exit

settings_or_exit()

application = get_asgi_application()
