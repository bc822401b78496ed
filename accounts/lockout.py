"""Glue between django-axes, which counts failed logins, and the token endpoint.

Axes counts the failures (its backend and signal handler) and refuses a
locked-out address before any password is checked. Two things it lacks for
the API: its lockout is an attribute on the request rather than DRF's
``Throttled`` (``429`` with ``Retry-After`` and a ``code``), and its client
address ignores DRF's ``NUM_PROXIES``.
"""

from axes.helpers import get_cool_off
from django.http import HttpRequest
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.exceptions import BadCredentials


def client_address(request: HttpRequest | Request) -> str | None:
    """Return the client's address as DRF's throttles see it (``NUM_PROXIES``)."""
    return BaseThrottle().get_ident(request)


def login_refusal(request: Request) -> APIException:
    """Return the error for a failed login: ``429`` once axes locked the address out.

    Axes marks the request when this failure reaches ``AXES_FAILURE_LIMIT`` or
    the address was already locked out; the lockout lasts
    ``AXES_COOLOFF_TIME`` from the last failure, which is the ``Retry-After``.
    """
    if getattr(request, "axes_locked_out", False):
        cool_off = get_cool_off(request)
        return Throttled(wait=cool_off.total_seconds() if cool_off else None)
    return BadCredentials()
