"""The worker's bootstep that runs the events relay in the worker's main process."""

import logging
import threading
from typing import Any

from celery import bootsteps
from django.db import connections

from events.conf import events_settings
from events.relay import relay_run

logger = logging.getLogger(__name__)


def _relay_thread(stop: threading.Event) -> None:
    """Run the relay until ``stop`` is set, then close this thread's connections."""
    try:
        relay_run(stop=stop)
    finally:
        connections.close_all()


class EventsRelayStep(bootsteps.StartStopStep):
    """Relay events and hand webhook deliveries over, in a thread of every worker.

    Added to the worker's blueprint in ``idem_project/celery.py``, after the
    pool (whose processes are forked first), so each ``celery worker`` runs
    one relay and no other process needs to. Several relays are safe
    together on PostgreSQL (events/relay.py); ``--without-events-relay``
    leaves it out of a worker. A warm shutdown stops the relay between two
    batches; a batch in flight is committed or rolled back first.
    """

    requires = ("celery.worker.components:Pool",)

    def __init__(
        self, parent: Any, *, without_events_relay: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(parent, **kwargs)
        self.enabled = not without_events_relay
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        """Start the relay's daemon thread."""
        self.stop_event.clear()
        self.thread = threading.Thread(
            target=_relay_thread,
            args=(self.stop_event,),
            name="events-relay",
            daemon=True,
        )
        self.thread.start()
        logger.info("Events relay started in this worker.")

    def stop(self, parent: Any) -> None:
        """Ask the relay to stop and wait for its batch in flight to end."""
        if self.thread is None:
            return
        self.stop_event.set()
        self.thread.join(timeout=float(events_settings.CONFIRM_TIMEOUT) + 5.0)
        if self.thread.is_alive():
            logger.warning(
                "Events relay still busy at shutdown; left to exit with the worker."
            )
        else:
            logger.info("Events relay stopped.")
        self.thread = None

    def shutdown(self, parent: Any) -> None:
        """Stop the relay on a cold shutdown too."""
        self.stop(parent)
