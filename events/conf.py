"""The events app's settings: one object, documented defaults, read in one place."""

from typing import Any

from idempotency.conf import AppSettings

#: Every setting of the app, with its default; override them in ``settings.EVENTS``.
DEFAULTS: dict[str, Any] = {
    # The durable topic exchange every event is published to.
    "EXCHANGE": "idem.events",
    # Seconds the relay waits between two looks at the table when idle.
    "RELAY_POLL_INTERVAL": 0.2,
    # Events published per relay transaction, at most.
    "RELAY_BATCH_SIZE": 1000,
    # Seconds to wait for the broker's confirms of one batch.
    "CONFIRM_TIMEOUT": 10.0,
    # Seconds an endpoint may take to answer; past it the attempt failed.
    "WEBHOOK_TIMEOUT": 10.0,
    # The longest wait between two attempts of one delivery, in seconds.
    "WEBHOOK_RETRY_MAX_INTERVAL": 3600.0,
    # Seconds after its creation at which a delivery that still fails is failed.
    "WEBHOOK_RETRY_WINDOW": 3 * 24 * 60 * 60.0,
    # Attempts at one endpoint at once, at most: a slow endpoint holds no
    # more of the webhooks worker's slots than this.
    "WEBHOOK_ENDPOINT_CONCURRENCY": 2,
    # Call endpoints on loopback, private or link-local addresses (tests, development).
    "WEBHOOK_ALLOW_PRIVATE": False,
    # A delivery handed to the worker but not taken for this many seconds is
    # handed over again (a lost task).
    "REDISPATCH_AFTER": 60.0,
}


class EventsSettings(AppSettings):
    """Read-through view of ``settings.EVENTS``; unknown names are an error."""

    @property
    def lease_seconds(self) -> float:
        """Return how long a worker holds a delivery it is attempting."""
        return float(self.WEBHOOK_TIMEOUT) + 5.0


events_settings = EventsSettings("EVENTS", DEFAULTS)
