"""``python -m idem_project.run start -f Procfile``: honcho for ``make run``.

On Ctrl-C honcho sends each process SIGTERM, then SIGKILL to whatever still
runs 5 seconds later (``honcho.manager.KILL_WAIT``, which its command line
cannot set). The Celery worker's warm shutdown on kombu's filesystem
transport lasts up to two turns of its loop, 2 seconds each, after the
signal: close to those 5 seconds. Here honcho waits longer, so the worker
always finishes its tasks and exits by itself.

honcho exits 130 after a Ctrl-C however the processes stopped, and make
reports that status as an error (``make: *** [Makefile:NN: run] Error
130``). Here a Ctrl-C after which every process stopped within the wait
exits 0; a stop that needed SIGKILL, or that began with a process ending,
keeps honcho's status.
"""

import signal
import sys
from typing import Any

#: Seconds honcho waits after its SIGTERM before it sends SIGKILL.
KILL_WAIT_SECONDS = 30


def main() -> None:
    """Run honcho's command line with the longer wait and a clean Ctrl-C."""
    # honcho is a development requirement: imported only when run.
    import honcho.command
    import honcho.manager

    interrupted = honcho.manager.SIGNALS[signal.SIGINT]["rc"]

    class Manager(honcho.manager.Manager):
        """honcho's manager; a Ctrl-C that every process obeys in time exits 0."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.stop_cause: int | None = None
            self.killed = False

        def terminate(self) -> None:
            # The first call says why the stop began: the signal handler sets
            # 130 just before it; a process that ended sets its own status.
            if self.stop_cause is None:
                self.stop_cause = self.returncode
            super().terminate()

        def kill(self) -> None:
            self.killed = True
            super().kill()

        def loop(self) -> None:
            super().loop()
            if self.stop_cause == interrupted and not self.killed:
                self.returncode = 0

    honcho.manager.KILL_WAIT = KILL_WAIT_SECONDS
    honcho.command.Manager = Manager
    honcho.command.main(sys.argv[1:])


if __name__ == "__main__":
    main()
