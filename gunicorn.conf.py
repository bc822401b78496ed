"""gunicorn's settings; ``gunicorn idem_project.wsgi`` reads this file from the project root.

Loading the settings here stops a wrong environment in the master, with one
line naming the variable, before any worker starts.

Every worker writes its metric values to ``PROMETHEUS_MULTIPROC_DIR`` (by
default ``VAR_DIR/metrics``, shared with the project's other processes on
this machine) and /metrics sums them all (docs/observability.md).
"""

from typing import Any

from idem_project.startup import settings_or_exit

_settings = settings_or_exit()

# A request stuck on the database answers 503 once DATABASE_STATEMENT_TIMEOUT
# has passed (one wait for a connection or a statement). The worker timeout
# leaves that answer 20 s more, so gunicorn never kills a worker about to
# reply (gunicorn answers nothing at all for a killed worker).
timeout = int(_settings.DATABASE_STATEMENT_TIMEOUT) + 20
# On SIGTERM, requests in flight get this long to finish.
graceful_timeout = timeout


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited; its counters stay in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
