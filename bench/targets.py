"""The one table of targets, and the ratios the summary reports."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Ratio:
    """Requests per second of one scenario over another's, within each round."""

    title: str
    numerator: str
    denominator: str


RATIOS = (
    Ratio("keyed create / create without key", "keyed", "baseline"),
    Ratio("replay / plain GET", "replay", "read"),
    Ratio("replay / create without key", "replay", "baseline"),
    Ratio("retry by client_id / create without key", "retry", "baseline"),
    Ratio("photo create (JSON) / create without key", "photo", "baseline"),
    Ratio("photo upload (100 KB) / create without key", "upload", "baseline"),
)
FULL_EMPTY = "keyed create, full / empty key table"
CONTENTION = "contention: 5xx replies and keys executed twice"
PURGE_SECONDS = "purge of the expired keys under load, seconds"
PURGE_P99 = "writers' p99 during the purge / idle"


@dataclass(frozen=True)
class Target:
    """A figure, by its title, and the bound it must keep."""

    figure: str
    least: float | None = None
    most: float | None = None

    @property
    def bound(self) -> str:
        return f">= {self.least:g}" if self.least is not None else f"<= {self.most:g}"

    def verdict(self, value: float | None) -> str:
        """Return "met", "MISSED", or "n/a" when the figure was not measured."""
        if value is None:
            return "n/a"
        if self.least is not None and value < self.least:
            return "MISSED"
        if self.most is not None and value > self.most:
            return "MISSED"
        return "met"


TARGETS = (
    Target(RATIOS[0].title, least=0.90),
    Target(RATIOS[1].title, least=1.0),
    Target(RATIOS[2].title, least=1.5),
    Target(FULL_EMPTY, least=0.95),
    Target(CONTENTION, most=0),
    Target(PURGE_SECONDS, most=30.0),
    Target(PURGE_P99, most=2.0),
)
