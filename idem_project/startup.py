"""Start-up: load the settings, or stop with one line naming the variable at fault."""

import os
import sys
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class EnvironmentValueError(ImproperlyConfigured):
    """An environment variable holds a value the project cannot start with.

    The message is the whole report: ``<VARIABLE>: expected <form>, got '<value>'``.
    """


def settings_or_exit(*, exit_code: int = 1) -> Any:
    """Return the loaded settings; on a bad environment value print one line and exit.

    manage.py, the WSGI and ASGI modules, gunicorn.conf.py and the Celery app
    call this before anything else, so a wrong value stops every entry point
    the same way: one line on standard error, no traceback.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idem_project.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018  imports the settings module
    except EnvironmentValueError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        raise SystemExit(exit_code) from None
    return settings
