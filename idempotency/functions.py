"""Idempotent functions and Celery tasks: ``@idempotent(key=...)`` over the key store.

A decorated function runs in one ``transaction.atomic()`` with the claim of
its key and the record of its JSON result, through the same ``claim()`` and
``record()`` as the HTTP layer: a second call, or a message delivered again,
with the same key returns the first result without running.
"""

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import transaction

from idempotency import store
from idempotency.conf import fingerprint_secrets, idempotency_settings
from idempotency.exceptions import KeyInUse
from idempotency.fingerprint import data_payload, request_fingerprints
from idempotency.records import NO_OWNER, Attempt, Reply

P = ParamSpec("P")
R = TypeVar("R")

#: The method of every function call's key row; its path is the function's name.
CALL_METHOD = "CALL"
#: Every function call's key scope starts with this, then the scope's name.
PRINCIPAL_PREFIX = "function:"

_CONTENT_TYPE = {"Content-Type": "application/json"}


def _dotted_name(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _key_of(
    key: str | Callable[..., str], arguments: dict[str, Any], *args: Any, **kwargs: Any
) -> str:
    value = key(*args, **kwargs) if callable(key) else key.format(**arguments)
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"an idempotency key must be a non-empty string, not {value!r}"
        )
    return value


def _retry_task_in_flight(exc: KeyInUse) -> None:
    """Retry the running Celery task later, if the call is made from one.

    Celery is optional (the ``celery`` extra): without it no task runs the call.
    """
    try:
        from celery import current_task
    except ImportError:
        return
    if not current_task or current_task.request.called_directly:
        return
    raise current_task.retry(
        exc=exc, countdown=idempotency_settings.RETRY_AFTER_SECONDS, max_retries=None
    )


def _attempt(
    *, owner: int, scope: str, name: str, key: str, arguments: dict[str, Any]
) -> Attempt:
    """Return the attempt of one call: its key, and a fingerprint of its arguments."""
    fingerprint, *fallbacks = request_fingerprints(
        method=CALL_METHOD,
        path=name,
        payload=data_payload(arguments),
        secrets=fingerprint_secrets(),
    )
    return Attempt(
        owner=owner,
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        method=CALL_METHOD,
        path=name,
        fallback_fingerprints=tuple(fallbacks),
    )


def _run_once(
    attempt: Attempt, call: Callable[[], Any], *, ttl_seconds: int | None
) -> Any:
    """Run ``call`` under the attempt's key, or return the result stored for it."""
    try:
        with transaction.atomic(using=store.database_alias()):
            reply = store.claim(attempt, ttl_seconds=ttl_seconds)
            if reply is not None:
                return json.loads(reply.body)
            body = json.dumps(call()).encode()
            store.record(attempt, Reply(status=200, body=body, headers=_CONTENT_TYPE))
    except KeyInUse as exc:
        _retry_task_in_flight(exc)
        raise
    return json.loads(body)


def idempotent(
    *,
    key: str | Callable[..., str],
    scope: str | None = None,
    owner: Callable[..., int] | None = None,
    ttl_seconds: int | None = None,
) -> Callable[[Callable[P, R]], Callable[P, Any]]:
    """Make a function run once per key; later calls return its first result.

    ``key`` is a ``str.format`` template filled with the call's arguments by
    name (``"order-{order_id}"``) or a callable that takes the function's
    arguments and returns the key. Keys live in ``IdempotencyKey`` under the
    scope ``"function:<scope>"``, where the scope defaults to the function's
    dotted name, and the owner 0, or the user id that ``owner`` returns when
    called with the function's arguments (so that the key sits on the shard
    of the rows the function writes); the fingerprint covers the arguments, which must
    be JSON-able to compare as data. A key lives ``ttl_seconds`` (default the
    app's ``TTL_SECONDS``); once it has expired, a call with it runs anew.

    The decorated function returns its result as JSON gives it back (a tuple
    becomes a list), the same on the first call and on every later one. A
    result that JSON cannot encode raises TypeError and nothing is kept.

    Raise KeyMismatch when the key was used with other arguments. Raise
    KeyInUse when another transaction still runs the function with this key
    after ``IN_FLIGHT_WAIT_SECONDS``; called from a Celery task, that task is
    retried instead, after ``RETRY_AFTER_SECONDS``. An exception from the
    function rolls back its work and releases the key.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, Any]:
        name = _dotted_name(func)
        key_scope = PRINCIPAL_PREFIX + (scope or name)
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            attempt = _attempt(
                owner=NO_OWNER if owner is None else owner(*args, **kwargs),
                scope=key_scope,
                name=name,
                key=_key_of(key, arguments, *args, **kwargs),
                arguments=arguments,
            )
            return _run_once(
                attempt, lambda: func(*args, **kwargs), ttl_seconds=ttl_seconds
            )

        return wrapper

    return decorate


__all__ = ["CALL_METHOD", "PRINCIPAL_PREFIX", "idempotent"]
