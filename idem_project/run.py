"""``python -m idem_project.run start -f Procfile``: honcho for ``make run``.

On Ctrl-C honcho sends each process SIGTERM, then SIGKILL to whatever still
runs 5 seconds later (``honcho.manager.KILL_WAIT``, which its command line
cannot set). The Celery worker's warm shutdown on kombu's filesystem
transport lasts up to two turns of its loop, 2 seconds each, after the
signal: close to those 5 seconds. Here honcho waits longer, so the worker
always finishes its tasks and exits by itself.
"""

import sys

#: Seconds honcho waits after its SIGTERM before it sends SIGKILL.
KILL_WAIT_SECONDS = 30


def main() -> None:
    """Run honcho's command line with the longer wait."""
    # honcho is a development requirement: imported only when run.
    import honcho.command
    import honcho.manager

    honcho.manager.KILL_WAIT = KILL_WAIT_SECONDS
    honcho.command.main(sys.argv[1:])


if __name__ == "__main__":
    main()
