"""System checks for the idempotency app's settings and installation."""

import math
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import connections
from django.urls import get_resolver
from django.utils.module_loading import import_string

from idempotency.conf import DEFAULTS

MIDDLEWARE_PATH = "idempotency.drf.IdempotencyMiddleware"
GATE_PATH = "idempotency.drf.IdempotencyGate"
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


def _is_header_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value)
        and all(c.isascii() and (c.isalnum() or c == "-") for c in value)
    )


def _is_methods(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(m, str) and m in _UNSAFE_METHODS for m in value)
    )


def _is_prefixes(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(p, str) and p.startswith("/") for p in value
    )


def _is_wait(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value < math.inf
    )


# What each setting must be, in words for the error message.
_VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "TTL_SECONDS": (_is_positive_int, "a positive integer (seconds)"),
    "HEADER": (_is_header_name, "an HTTP header name such as 'Idempotency-Key'"),
    "ALIAS_HEADER": (
        lambda v: v in ("", None) or _is_header_name(v),
        "an HTTP header name, or '' for none",
    ),
    "METHODS": (_is_methods, "a non-empty list of POST, PUT, PATCH, DELETE"),
    "PATH_PREFIXES": (_is_prefixes, "a list of paths that start with '/'"),
    "REQUIRED_PATH_PREFIXES": (_is_prefixes, "a list of paths that start with '/'"),
    "IN_FLIGHT_WAIT_SECONDS": (_is_wait, "a number of seconds, 0 or more"),
    "RETRY_AFTER_SECONDS": (_is_positive_int, "a positive integer (seconds)"),
    "PURGE_BATCH_SIZE": (_is_positive_int, "a positive integer"),
    "PURGE_PAUSE_FACTOR": (_is_wait, "a number, 0 or more"),
}


def setting_problem(name: str, value: Any) -> str | None:
    """Return what the setting ``name`` must be when ``value`` is not valid, else None."""
    is_valid, expected = _VALIDATORS[name]
    return None if is_valid(value) else expected


def check_settings(**_: Any) -> list[CheckMessage]:
    """Report unknown names (E001) and bad values (E002) in ``settings.IDEMPOTENCY``."""
    configured = getattr(settings, "IDEMPOTENCY", {})
    if not isinstance(configured, dict):
        return [
            Error(
                "IDEMPOTENCY must be a dict.",
                hint=f"Use names among: {', '.join(DEFAULTS)}.",
                id="idempotency.E002",
            )
        ]
    errors: list[CheckMessage] = [
        Error(
            f"IDEMPOTENCY has an unknown setting {name!r}.",
            hint=f"Known settings: {', '.join(DEFAULTS)}.",
            id="idempotency.E001",
        )
        for name in configured
        if name not in DEFAULTS
    ]
    errors += [
        Error(
            f"IDEMPOTENCY[{name!r}] is {configured[name]!r}; it must be {expected}.",
            id="idempotency.E002",
        )
        for name in _VALIDATORS
        if name in configured and (expected := setting_problem(name, configured[name]))
    ]
    return errors


def _skipped_view_middleware() -> list[str]:
    """Return the middleware after ours whose ``process_view`` would not run."""
    middleware = list(settings.MIDDLEWARE)
    skipped = []
    for path in middleware[middleware.index(MIDDLEWARE_PATH) + 1 :]:
        try:
            middleware_class = import_string(path)
        except ImportError:
            continue  # Django reports it when it loads the middleware
        if hasattr(middleware_class, "process_view"):
            skipped.append(path)
    return skipped


def check_installation(**_: Any) -> list[CheckMessage]:
    """Report a missing middleware (E003) or DRF gate (E004).

    Also warn (W003) for each middleware listed after ours with a
    ``process_view``: ours calls the view, so theirs would not run.
    """
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        messages: list[CheckMessage] = [
            Error(
                "The idempotency middleware is not installed: keyed requests "
                "cannot be claimed, recorded or run in one transaction.",
                hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE after "
                "AuthenticationMiddleware and CsrfViewMiddleware.",
                id="idempotency.E003",
            )
        ]
    else:
        messages = [
            Warning(
                f"{path!r} comes after the idempotency middleware in MIDDLEWARE: "
                "its process_view does not run for views under the layer.",
                hint=f"Move {MIDDLEWARE_PATH!r} after it.",
                id="idempotency.W003",
            )
            for path in _skipped_view_middleware()
        ]
    throttles = getattr(settings, "REST_FRAMEWORK", {}).get(
        "DEFAULT_THROTTLE_CLASSES", []
    )
    if GATE_PATH not in throttles:
        messages.append(
            Error(
                "The idempotency gate is not among DRF's DEFAULT_THROTTLE_CLASSES: "
                "the Idempotency-Key header would be ignored.",
                hint=f"Add {GATE_PATH!r} to REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES'].",
                id="idempotency.E004",
            )
        )
    return messages


def _views(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (route, view class) for every class-based view in the URLconf."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from _views(pattern.url_patterns, route)
        elif getattr(pattern.callback, "cls", None) is not None:
            yield route, pattern.callback.cls


def check_views(**_: Any) -> list[CheckMessage]:
    """Warn (W004) for each DRF view whose own ``throttle_classes`` leave the gate out."""
    from idempotency.drf import IdempotencyGate

    messages: list[CheckMessage] = []
    seen: set[type] = set()
    for route, view in _views(get_resolver().url_patterns):
        throttles = getattr(view, "throttle_classes", None)
        if (
            view in seen
            or throttles is None
            or getattr(view, "idempotency_exempt", False)
            or any(issubclass(t, IdempotencyGate) for t in throttles)
        ):
            continue
        seen.add(view)
        messages.append(
            Warning(
                f"{view.__module__}.{view.__qualname__} (at {route or '/'}) sets "
                "throttle_classes without the idempotency gate: it ignores the "
                "Idempotency-Key header.",
                hint="Use throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, "
                "...], or set idempotency_exempt = True on the view.",
                id="idempotency.W004",
            )
        )
    return messages


def needs_immediate_mode(vendor: str, options: dict[str, Any]) -> bool:
    """Return whether a database is SQLite without ``transaction_mode: "IMMEDIATE"``.

    ``"EXCLUSIVE"`` takes the write lock at the start too, and passes.
    """
    mode = options.get("transaction_mode")
    return vendor == "sqlite" and not (
        isinstance(mode, str) and mode.upper() in ("IMMEDIATE", "EXCLUSIVE")
    )


def check_database(**_: Any) -> list[CheckMessage]:
    """Warn (W005) when the keys' database is SQLite in its default transaction mode.

    SQLite's deferred transactions take the write lock at their first write;
    two concurrent writers then fail at once with "database is locked" (a
    500) instead of queueing behind each other, and every unsafe request
    under the layer runs in a transaction.
    """
    from idempotency.store import database_alias

    alias = database_alias()
    connection = connections[alias]
    if not needs_immediate_mode(
        connection.vendor, connection.settings_dict.get("OPTIONS", {})
    ):
        return []
    return [
        Warning(
            f"The database {alias!r} is SQLite without transaction_mode "
            "IMMEDIATE: concurrent requests under the idempotency layer fail "
            "with 500 'database is locked'.",
            hint=f'Set DATABASES[{alias!r}]["OPTIONS"]["transaction_mode"] = '
            '"IMMEDIATE".',
            id="idempotency.W005",
        )
    ]
