"""WSGI entry point: ``gunicorn idem_project.wsgi``."""

from django.core.wsgi import get_wsgi_application

from idem_project.startup import settings_or_exit

# 4 is gunicorn's "application failed to load": the master stops rather than
# starting the worker again and again. gunicorn.conf.py checks the settings
# first, so this only matters when gunicorn runs without that file.
settings_or_exit(exit_code=4)

application = get_wsgi_application()
