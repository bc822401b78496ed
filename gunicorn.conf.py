"""gunicorn's settings; ``gunicorn idem_project.wsgi`` reads this file from the project root.

Loading the settings here stops a wrong environment in the master, with one
line naming the variable, before any worker starts.

The hooks keep /metrics summed over every worker process (prometheus-client's
multiprocess mode): each worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and /metrics reads them all. The variable must be
set before a worker imports prometheus_client, so it is set here, when
gunicorn reads this file: to the environment's value, or else to a new
temporary directory of this server's own, removed when it stops
(docs/observability.md).
"""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

_OWN_DIRECTORY = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_DIRECTORY:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idem-metrics-")
METRICS_DIRECTORY = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

# Imported after the variable is set: the settings may import what reads it.
from idem_project.startup import settings_or_exit  # noqa: E402

_settings = settings_or_exit()

# A request stuck on the database answers 503 once DATABASE_STATEMENT_TIMEOUT
# has passed (one wait for a connection or a statement). The worker timeout
# leaves that answer 20 s more, so gunicorn never kills a worker about to
# reply (gunicorn answers nothing at all for a killed worker).
timeout = int(_settings.DATABASE_STATEMENT_TIMEOUT) + 20
# On SIGTERM, requests in flight get this long to finish.
graceful_timeout = timeout


def on_starting(server: Any) -> None:
    """Empty the metrics directory: values of a previous run are not this one's."""
    METRICS_DIRECTORY.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIRECTORY.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited; its counters stay in the sum."""
    # Imported here, never above: prometheus_client picks its multiprocess
    # mode when first imported, and workers forked from a master that had
    # imported it before the variable was set would inherit the wrong mode.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics directory when this server made it."""
    if _OWN_DIRECTORY:
        shutil.rmtree(METRICS_DIRECTORY, ignore_errors=True)
