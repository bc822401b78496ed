"""The values that cross the key layer's seams: an attempt, its reply, a found row."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attempt:
    """A request that carries a key: who sent it, the key, and what it asked for."""

    principal: str
    key: str
    fingerprint: str
    method: str
    path: str
    # The fingerprints under SECRET_KEY_FALLBACKS: a stored one matches too.
    fallback_fingerprints: tuple[str, ...] = ()

    def matches(self, fingerprint: str) -> bool:
        """Return whether a stored fingerprint is this attempt's, under any secret."""
        return (
            fingerprint == self.fingerprint or fingerprint in self.fallback_fingerprints
        )


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
