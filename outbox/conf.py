"""The outbox app's settings: one object, documented defaults, read in one place."""

from typing import Any

from idempotency.conf import AppSettings

#: Every setting of the app, with its default; override them in ``settings.OUTBOX``.
DEFAULTS: dict[str, Any] = {
    # Seconds the web process may spend handing a message to the broker after
    # the commit (connecting included); past that the relay hands it over.
    "HAND_OVER_TIMEOUT": 1.0,
    # The relay hands over pending messages at least this many seconds old, so
    # it does not race the hand-over that follows the commit.
    "RELAY_AFTER_SECONDS": 5,
    # A message the relay handed over, or whose last attempt started, this long
    # ago without being sent, and that no worker holds, is handed over again
    # (its task was lost: a worker died, a broker dropped it). Longer than the
    # longest pause between two retries (20 s) plus one attempt (EMAIL_TIMEOUT).
    "REHAND_AFTER_SECONDS": 60,
    # Seconds a worker holds a message it is sending; another worker leaves the
    # message alone meanwhile. Longer than one SMTP conversation (EMAIL_TIMEOUT).
    "LEASE_SECONDS": 60,
    # Seconds after the first attempt at which a message that still fails is
    # marked failed instead of retried.
    "GIVE_UP_AFTER_SECONDS": 24 * 60 * 60,
    # Messages handed over per relay run, at most.
    "RELAY_BATCH_SIZE": 500,
    # Days a processed-message record (a done message, a payment event, an
    # @idempotent call) is kept; failed messages are kept until retried.
    "RETENTION_DAYS": 7,
    # Rows the purge deletes per transaction, and its pause after each batch,
    # as a multiple of the time the batch took.
    "PURGE_BATCH_SIZE": 1000,
    "PURGE_PAUSE_FACTOR": 1.0,
}


outbox_settings = AppSettings("OUTBOX", DEFAULTS)
