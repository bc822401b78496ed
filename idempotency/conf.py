"""The idempotency app's settings: one object, documented defaults, read in one place."""

import functools
import hashlib
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


class AppSettings:
    """Read-through view of one dict setting, such as ``settings.IDEMPOTENCY``.

    Each name is read once and cached until the setting changes
    (``override_settings`` included); a name not in ``defaults`` is an
    AttributeError. Other apps may build their own settings object with it.
    """

    def __init__(self, setting: str, defaults: dict[str, Any]) -> None:
        self._setting = setting
        self._defaults = defaults
        _app_settings.append(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"no {self._setting} setting named {name!r}")
        value = getattr(settings, self._setting, {}).get(name, self._defaults[name])
        self.__dict__[name] = value  # cached until reload()
        return value

    def reload(self) -> None:
        """Forget the cached values, so the next read sees the current settings."""
        for name in self._defaults:
            self.__dict__.pop(name, None)


_app_settings: list[AppSettings] = []


def _reload(*, setting: str, **_: Any) -> None:
    for app_settings in _app_settings:
        if app_settings._setting == setting:
            app_settings.reload()


# A module-level function: the signal holds its receivers weakly.
setting_changed.connect(_reload)

idempotency_settings = AppSettings("IDEMPOTENCY", DEFAULTS)


@functools.lru_cache(maxsize=16)
def _fingerprint_key(secret_key: str) -> bytes:
    # The salt sets this key apart from Django's own uses of SECRET_KEY.
    return hashlib.sha256(("idempotency.fingerprint" + secret_key).encode()).digest()


def fingerprint_secret() -> bytes:
    """Return the key of the fingerprints' HMAC: SECRET_KEY hashed with a fixed salt."""
    return _fingerprint_key(settings.SECRET_KEY)


def fingerprint_secrets() -> tuple[bytes, ...]:
    """Return the fingerprints' key, then one per value in SECRET_KEY_FALLBACKS.

    A key stored under a secret that is now a fallback still matches its
    retries, as Django's signed cookies do after a rotation.
    """
    return (
        fingerprint_secret(),
        *(_fingerprint_key(old) for old in settings.SECRET_KEY_FALLBACKS),
    )
