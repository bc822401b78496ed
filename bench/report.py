"""The runs' records, and the summary: medians, ratios within rounds, the targets."""

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from keytable import Fill
from scenarios import SCENARIOS
from targets import CONTENTION, PURGE_P99, PURGE_SECONDS, RATIOS, judged
from wrk import Summary

Slot = tuple[str, str]  # (phase, scenario)


@dataclass(frozen=True)
class Run:
    """One scenario's run in one round of a phase, and what makes it invalid."""

    phase: str
    round: int
    scenario: str
    got: Summary
    problems: list[str]

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Purge:
    """The purge under a keyed-create load."""

    expired: int
    deleted: int
    seconds: float
    writers: Run


@dataclass
class Outcome:
    """Everything a run of the suite measured."""

    heading: str
    runs: list[Run]
    fill: Fill | None = None
    purge: Purge | None = None
    figures: dict[str, float | None] = field(default_factory=dict)


def median(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """Return ``rows`` under ``header`` as aligned text columns."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )


def chosen(
    runs: list[Run], phase: str, scenario: str, *, valid: bool = True
) -> dict[int, Run]:
    """Return the runs of ``scenario`` in ``phase``, by round."""
    return {
        r.round: r
        for r in runs
        if r.phase == phase and r.scenario == scenario and (r.valid or not valid)
    }


def ratios(runs: list[Run], top: Slot, bottom: Slot) -> list[float | None]:
    """Return top / bottom requests per second in each round."""
    above, below = chosen(runs, *top), chosen(runs, *bottom)
    numbers = sorted({r.round for r in runs if r.phase in (top[0], bottom[0])})
    return [
        above[n].got.rps / below[n].got.rps
        if n in above and n in below and below[n].got.rps
        else None
        for n in numbers
    ]


def scenarios_table(runs: list[Run]) -> str:
    rows = []
    for name, scenario in SCENARIOS.items():
        every = chosen(runs, "rounds", name, valid=False).values()
        valid = [r.got for r in every if r.valid]
        statuses = sum((Counter(r.got.statuses) for r in every), Counter())
        rows.append(
            [
                scenario.title,
                fmt(median(g.rps for g in valid), 1),
                fmt(median(g.p50_ms for g in valid), 1),
                fmt(median(g.p99_ms for g in valid), 1),
                " ".join(f"{c}:{n}" for c, n in sorted(statuses.items())) or "-",
                f"{len(valid)}/{len(every)}",
            ]
        )
    header = ["scenario", "req/s", "p50 ms", "p99 ms", "statuses", "valid"]
    return "Scenarios, medians of the valid runs\n" + table(rows, header)


def ratios_table(outcome: Outcome) -> str:
    rows = []
    for ratio in RATIOS:
        top, bottom = ratio.phases
        each = ratios(outcome.runs, (top, ratio.numerator), (bottom, ratio.denominator))
        outcome.figures[ratio.title] = median(each)
        rows.append([ratio.title, " ".join(fmt(r) for r in each), fmt(median(each))])
    header = ["ratio of requests/s", "per round", "median"]
    return "Ratios, taken within each round\n" + table(rows, header)


def contention_figure(outcome: Outcome) -> str:
    runs = chosen(outcome.runs, "rounds", "contention", valid=False).values()
    errors = sum(
        n for r in runs for code, n in r.got.statuses.items() if code.startswith("5")
    )
    twice = sum(1 for r in runs for n in r.got.executions.values() if n > 1)
    keys = sum(len(r.got.executions) for r in runs)
    outcome.figures[CONTENTION] = errors + twice if runs else None
    return f"Contention: {keys:,} keys executed, {twice} of them twice, {errors} 5xx replies"


def key_table_text(outcome: Outcome) -> str:
    fill, runs = outcome.fill, outcome.runs
    if fill is None:
        return "The key table: skipped"
    rows = []
    for name in ("baseline", "keyed"):
        empty, full = (
            chosen(runs, f"table-{s}", name).values() for s in ("empty", "full")
        )
        rows.append(
            [SCENARIOS[name].title]
            + [fmt(median(r.got.rps for r in some), 1) for some in (empty, full)]
        )
    lines = [
        f"The key table: {fill.expired:,} expired and {fill.live:,} live keys, "
        f"filled in {fill.seconds} s, {fill.size} with indexes",
        table(rows, ["scenario", "empty req/s", "full req/s"]),
    ]
    if outcome.purge:
        lines.append(purge_text(outcome, outcome.purge))
    return "\n".join(lines)


def purge_text(outcome: Outcome, purge: Purge) -> str:
    idle = median(
        r.got.p99_ms for r in chosen(outcome.runs, "table-full", "keyed").values()
    )
    during = purge.writers.got.p99_ms if purge.writers.valid else None
    outcome.figures[PURGE_SECONDS] = purge.seconds
    outcome.figures[PURGE_P99] = during / idle if during and idle else None
    return (
        f"  purge: {purge.deleted:,} of {purge.expired:,} expired keys in {purge.seconds} s; "
        f"writers' p99 {fmt(during, 1)} ms against {fmt(idle, 1)} ms idle, "
        f"{purge.writers.got.rps:.1f} req/s"
    )


def summarise(outcome: Outcome) -> str:
    """Return the readable summary; fill ``outcome.figures`` on the way."""
    parts = [
        outcome.heading,
        scenarios_table(outcome.runs),
        ratios_table(outcome),
        contention_figure(outcome),
        key_table_text(outcome),
        judged(outcome.figures, "run.py"),
    ]
    invalid = [
        f"  INVALID {r.phase} r{r.round} {r.scenario}: {'; '.join(r.problems)}"
        for r in outcome.runs
        if not r.valid
    ]
    return "\n\n".join(parts) + "\n" + "\n".join(invalid)
