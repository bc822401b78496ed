"""Gunicorn hooks that keep /metrics summed over every worker process.

prometheus-client's multiprocess mode: each worker writes its values to files
in ``PROMETHEUS_MULTIPROC_DIR`` and /metrics reads them all. The variable must
be set before a worker imports prometheus_client, so it is set here, when
gunicorn reads this file: to the environment's value, or else to a new
temporary directory of this server's own, removed when it stops. See
docs/observability.md.
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
