"""``manage.py relay_events``: publish events and hand webhook deliveries over."""

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from events.relay import relay_run


class Command(BaseCommand):
    help = "Publish new events to the broker and hand webhook deliveries to the workers, until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.stdout.write("Relaying events; SIGTERM or Ctrl-C stops.")
        relay_run(stop=stop)
