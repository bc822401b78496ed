"""Start-up: load the settings, or stop with one line naming the variable at fault."""

import contextlib
import os
import sys
from pathlib import Path
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
        share_metrics_directory(settings.METRICS_DIRECTORY)
    except EnvironmentValueError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        raise SystemExit(exit_code) from None
    return settings


def share_metrics_directory(directory: Path) -> None:
    """Make every process of this machine write its metric values to ``directory``.

    It is METRICS_DIRECTORY: ``PROMETHEUS_MULTIPROC_DIR`` when set, or else
    ``VAR_DIR/metrics``, so the web, the workers and the
    scheduler started from one checkout share it with no configuration and
    ``/metrics`` sums them all. prometheus_client reads the variable once,
    when first imported: every entry point calls this before anything
    imports it. The directory is never emptied, since other processes may
    be writing to it; the files of processes that ended keep their counts
    in the sums, and only their live gauges are dropped here.

    Raise EnvironmentValueError when the directory cannot be written.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    with contextlib.suppress(OSError):  # reported below
        directory.mkdir(parents=True, exist_ok=True)
    if not (directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)):
        raise EnvironmentValueError(
            "PROMETHEUS_MULTIPROC_DIR: expected a writable directory "
            f"(default VAR_DIR/metrics), got '{directory}'"
        )
    # Imported only now that the variable is set.
    from prometheus_client import multiprocess

    for pid in _ended_processes(directory):
        multiprocess.mark_process_dead(pid, str(directory))


def _ended_processes(directory: Path) -> set[int]:
    """Return the pids of live-gauge files in ``directory`` whose process ended."""
    ended = set()
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            ended.add(int(pid))
    return ended


def _alive(pid: int) -> bool:
    """Return whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
