"""The values that cross the key layer's seams: an attempt, its reply, a found row."""

from dataclasses import dataclass, field

#: The owner of the keys of anonymous requests and, by default, of function calls.
NO_OWNER = 0


def principal_name(owner: int, scope: str) -> str:
    """Return who a key belongs to, for people: ``user:<id>``, ``anonymous`` or the scope."""
    if scope:
        return scope
    return f"user:{owner}" if owner != NO_OWNER else "anonymous"


@dataclass(frozen=True)
class Attempt:
    """A request that carries a key: who sent it, the key, and what it asked for.

    ``owner`` is the id of the user the key belongs to (``NO_OWNER`` for an
    anonymous request); ``scope`` is empty for HTTP requests and names the
    function for ``@idempotent`` calls. Keys are unique per owner and scope.
    """

    owner: int
    key: str
    fingerprint: str
    method: str
    path: str
    scope: str = ""
    # The fingerprints under SECRET_KEY_FALLBACKS: a stored one matches too.
    fallback_fingerprints: tuple[str, ...] = ()

    def matches(self, fingerprint: str) -> bool:
        """Return whether a stored fingerprint is this attempt's, under any secret."""
        return (
            fingerprint == self.fingerprint or fingerprint in self.fallback_fingerprints
        )

    @property
    def principal(self) -> str:
        """Return who the key belongs to, as logs and the admin show it."""
        return principal_name(self.owner, self.scope)


@dataclass(frozen=True)
class Reply:
    """A reply ready to send again: status, rendered body, Content-Type and Location."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    """What a claim saw: the row it inserted, or the row already there."""

    claimed: bool
    pk: int | None = None
    fingerprint: str = ""
    state: str = ""
    status_code: int | None = None
    body: bytes = b""
    content_type: str = ""
    location: str = ""
    expired: bool = False
    lock_held: bool = True
