"""The idempotency app's settings: one object, documented defaults, read in one place."""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

#: Every setting of the app, with its default. Override any of them in
#: ``settings.IDEMPOTENCY``; names not listed here are reported by the
#: ``idempotency.E001`` system check, bad values by ``idempotency.E002``.
DEFAULTS: dict[str, Any] = {
    # Seconds a stored key lives; an expired key runs anew.
    "TTL_SECONDS": 24 * 60 * 60,
    # The request header that carries the key.
    "HEADER": "Idempotency-Key",
    # A second accepted header name; empty to accept only HEADER.
    "ALIAS_HEADER": "X-Idempotency-Key",
    # The methods the layer applies to.
    "METHODS": ("POST", "PUT", "PATCH", "DELETE"),
    # The path prefixes the layer applies to (compared with ``request.path_info``).
    "PATH_PREFIXES": ("/api/", "/upload"),
    # Path prefixes under which a request without a key is refused (400).
    "REQUIRED_PATH_PREFIXES": (),
    # How long a duplicate waits for the first request with its key before 409.
    "IN_FLIGHT_WAIT_SECONDS": 2.0,
    # The Retry-After of that 409, in whole seconds.
    "RETRY_AFTER_SECONDS": 1,
    # Rows deleted per transaction by ``purge_idempotency_keys``.
    "PURGE_BATCH_SIZE": 1000,
    # After each batch the purge sleeps this many times as long as the batch
    # took, leaving the database to the requests; 0 purges flat out.
    "PURGE_PAUSE_FACTOR": 0.25,
}


class IdempotencySettings:
    """Read-through view of ``settings.IDEMPOTENCY``; unknown names are an error."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"no idempotency setting named {name!r}")
        value = getattr(settings, "IDEMPOTENCY", {}).get(name, DEFAULTS[name])
        self.__dict__[name] = value  # cached until reload()
        return value

    def reload(self) -> None:
        """Forget the cached values, so the next read sees the current settings."""
        self.__dict__.clear()


idempotency_settings = IdempotencySettings()


def _reload(*, setting: str, **_: Any) -> None:
    if setting == "IDEMPOTENCY":
        idempotency_settings.reload()


# A module-level function: the signal holds its receivers weakly.
setting_changed.connect(_reload)
