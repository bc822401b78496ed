"""The one table of targets, of all three scripts, and the ratios run.py reports."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Ratio:
    """Requests per second of one scenario over another's, within each round."""

    title: str
    numerator: str
    denominator: str
    phases: tuple[str, str] = ("rounds", "rounds")


# The phase of run.py that runs keyed creates under each server, 2 workers each.
SERVERS = ("uvicorn-2", "gunicorn-2")
TABLES = ("table-full", "table-empty")
# The phase of run.py --pgbouncer: the same keyed creates, direct and pooled.
POOLERS = ("direct-2", "pgbouncer-2")
# The phase of run.py --citus: the same keyed creates, on PostgreSQL and on Citus.
CITUS = ("postgres-2", "citus-2")
RATIOS = (
    Ratio("keyed create / create without key", "keyed", "baseline"),
    Ratio("replay / plain GET", "replay", "read"),
    Ratio("replay / create without key", "replay", "baseline"),
    Ratio("retry by client_id / create without key", "retry", "baseline"),
    Ratio("photo create (JSON) / create without key", "photo", "baseline"),
    Ratio("photo upload (100 KB) / create without key", "upload", "baseline"),
    Ratio("keyed create, uvicorn / gunicorn, 2 workers", "keyed", "keyed", SERVERS),
    Ratio("keyed create, full / empty key table", "keyed", "keyed", TABLES),
    Ratio(
        "keyed create, through PgBouncer / direct, 2 workers",
        "keyed",
        "keyed",
        POOLERS[::-1],
    ),
    Ratio("keyed create, Citus / PostgreSQL, 2 workers", "keyed", "keyed", CITUS[::-1]),
)
CONTENTION = "contention: 5xx replies and keys executed twice"
PURGE_SECONDS = "purge of the expired keys under load, seconds"
PURGE_P99 = "writers' p99 during the purge / idle"
BATCH_COST = "per-item cost, 1,000 single creates / one 1,000-item batch"
IMPORT_SECONDS = "import_orders, first run of the file, seconds"
IMPORT_AGAIN = "import_orders, second run of the file, orders created"
QUEUE_DEDUPE = "task under @idempotent / the effect alone, messages/s"
EVENTS_PER_SECOND = "events published per second by one relay"
EVENT_P99 = "commit-to-publish p99 of an event, seconds"
DELIVERY_P99 = "commit-to-delivery p99 of a webhook, seconds"


@dataclass(frozen=True)
class Target:
    """A figure, by its title, the bound it must keep and the script that measures it."""

    figure: str
    least: float | None = None
    most: float | None = None
    script: str = "run.py"

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
    Target(RATIOS[2].title, least=2.5),
    Target(RATIOS[7].title, least=0.95),
    Target(CONTENTION, most=0),
    Target(PURGE_SECONDS, most=30.0),
    Target(PURGE_P99, most=2.0),
    Target(RATIOS[6].title, least=0.8),
    Target(BATCH_COST, least=20.0, script="reimport.py"),
    Target(IMPORT_SECONDS, most=60.0, script="reimport.py"),
    Target(IMPORT_AGAIN, most=0, script="reimport.py"),
    Target(QUEUE_DEDUPE, least=0.8, script="queues.py"),
    Target(EVENTS_PER_SECOND, least=1000.0, script="events.py"),
    Target(EVENT_P99, most=1.0, script="events.py"),
    Target(DELIVERY_P99, most=1.0, script="events.py"),
)


def judged(figures: Mapping[str, float | None], script: str) -> str:
    """Return the targets ``script`` measures, each with its figure and verdict."""
    lines = ["Targets"]
    for target in (t for t in TARGETS if t.script == script):
        value = figures.get(target.figure)
        shown = "-" if value is None else f"{value:.2f}"
        lines.append(
            f"  {target.figure}: {shown} (target {target.bound}) {target.verdict(value)}"
        )
    return "\n".join(lines)
