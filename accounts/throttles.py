"""The token endpoint's throttle: failed logins per client address."""

from typing import TYPE_CHECKING, Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class LoginFailureThrottle(SimpleRateThrottle):
    """Refuse every token request from an address with too many recent failures.

    Only failures count (``record_failure``), and they count by client address
    alone, never by e-mail: a known and an unknown e-mail get the same answers,
    ``400`` and then ``429``. The rate is ``DEFAULT_THROTTLE_RATES["login_failures"]``.
    """

    scope = "login_failures"

    def get_rate(self) -> str | None:
        """Return the configured rate, read when the throttle is made."""
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: "Request", view: "APIView | None") -> str:
        """Return the cache key of the request's client address."""
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }

    def _load(self, request: "Request") -> None:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [
            moment
            for moment in self.cache.get(self.key, [])
            if moment > self.now - self.duration
        ]

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        """Let the request through unless its address failed too often; record nothing."""
        if self.rate is None:
            return True
        self._load(request)
        return len(self.history) < self.num_requests

    def record_failure(self, request: "Request") -> None:
        """Count one failed login from the request's address."""
        if self.rate is None:
            return
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

    def wait(self) -> Any:
        """Return the seconds until the address may try again."""
        oldest_counted = self.history[self.num_requests - 1]
        return max(1.0, oldest_counted + self.duration - self.now)
