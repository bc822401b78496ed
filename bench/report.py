"""Turn the benchmark's runs into figures: medians, ratios within rounds, a table."""

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A ratio of two scenarios' requests per second, and the least it may be."""

    title: str
    numerator: str
    denominator: str
    least: float | None = None


THROUGHPUT_RATIOS = (
    Target("keyed create / create without key", "keyed", "baseline", 0.90),
    Target("replay / plain GET", "replay", "read", 1.0),
    Target("replay / create without key", "replay", "baseline", 1.5),
    Target("retry by client_id / create without key", "retry", "baseline"),
    Target("photo create (JSON) / create without key", "photo", "baseline"),
    Target("photo upload (100 KB) / create without key", "upload", "baseline"),
)


def runs_of(runs: list[dict], phase: str, scenario: str | None = None) -> list[dict]:
    return [
        run
        for run in runs
        if run["phase"] == phase and (scenario is None or run["scenario"] == scenario)
    ]


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def scenario_figures(runs: list[dict], phase: str, scenario: str) -> dict[str, Any]:
    """Return the medians of one scenario's valid runs in a phase, and its statuses."""
    chosen = runs_of(runs, phase, scenario)
    valid = [run for run in chosen if run["valid"]]
    statuses: dict[str, int] = {}
    for run in chosen:
        for code, count in run["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    return {
        "runs": len(chosen),
        "valid": len(valid),
        "rps": median(run["rps"] for run in valid),
        "p50_ms": median(run["p50_ms"] for run in valid),
        "p99_ms": median(run["p99_ms"] for run in valid),
        "statuses": dict(sorted(statuses.items())),
        "problems": sorted({p for run in chosen for p in run["problems"]}),
        "others_cpu": median(run["cpu"]["others"] for run in chosen if run.get("cpu")),
    }


def ratio_per_round(
    runs: list[dict], phase: str, numerator: str, denominator: str
) -> list[float | None]:
    """Return numerator/denominator requests per second in each round of a phase."""
    rounds = sorted({run["round"] for run in runs_of(runs, phase)})
    ratios: list[float | None] = []
    for number in rounds:
        top = [r for r in runs_of(runs, phase, numerator) if r["round"] == number]
        bottom = [r for r in runs_of(runs, phase, denominator) if r["round"] == number]
        if (
            top
            and bottom
            and top[0]["valid"]
            and bottom[0]["valid"]
            and bottom[0]["rps"]
        ):
            ratios.append(top[0]["rps"] / bottom[0]["rps"])
        else:
            ratios.append(None)
    return ratios


def verdict(
    value: float | None, least: float | None = None, most: float | None = None
) -> str:
    if value is None:
        return "n/a"
    if least is not None and value < least:
        return "MISSED"
    if most is not None and value > most:
        return "MISSED"
    return "met" if least is not None or most is not None else ""


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [
        max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))
    ]
    lines = [
        "  ".join(
            str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def statuses_text(statuses: dict[str, int]) -> str:
    return " ".join(f"{code}:{count}" for code, count in statuses.items()) or "-"


def summarise(
    runs: list[dict], facts: dict[str, Any], titles: dict[str, str]
) -> tuple[str, dict]:
    """Return the readable report and the figures behind it."""
    figures: dict[str, Any] = {"targets": []}
    out: list[str] = []
    machine = facts.get("machine", {})
    out.append("Idem benchmark")
    out.append(
        f"  {facts.get('started', '')}  git {machine.get('git', '?')}  "
        f"{machine.get('nproc', '?')} cores, {machine.get('memory', '?')} memory, "
        f"PostgreSQL {machine.get('postgresql', '?')}, Python {machine.get('python', '?')}"
    )
    settings = facts.get("settings", {})
    out.append(
        f"  gunicorn {settings.get('workers')} sync workers; wrk {settings.get('threads')} "
        f"thread(s), {settings.get('connections')} connections, "
        f"{settings.get('duration')} s a run, {settings.get('rounds')} round(s)"
    )

    foreign = [run["cpu"]["others"] for run in runs if run.get("cpu")]
    if foreign:
        out.append(
            f"  CPU used by other programs during the runs: median {median(foreign):.0f}%, "
            f"max {max(foreign):.0f}% of the machine"
        )
        figures["others_cpu"] = {"median": median(foreign), "max": max(foreign)}
    stolen = [run["cpu"].get("stolen", 0.0) for run in runs if run.get("cpu")]
    if stolen:
        out.append(
            "  CPU taken by the hypervisor for other machines (steal): "
            f"median {median(stolen):.0f}%, max {max(stolen):.0f}%"
        )
        figures["stolen_cpu"] = {"median": median(stolen), "max": max(stolen)}
    if facts.get("waited_for_quiet_s"):
        out.append(
            f"  waited {facts['waited_for_quiet_s']:.0f} s in all for other programs "
            "to leave the CPU before runs"
        )
    out.append("\nScenarios (median of the valid runs over the rounds)")
    rows = []
    for name, title in titles.items():
        got = scenario_figures(runs, "rounds", name)
        figures.setdefault("scenarios", {})[name] = got
        rows.append(
            [
                title,
                fmt(got["rps"], 1),
                fmt(got["p50_ms"], 1),
                fmt(got["p99_ms"], 1),
                statuses_text(got["statuses"]),
                f"{got['valid']}/{got['runs']}",
                fmt(got["others_cpu"], 0),
            ]
        )
    out.append(
        table(
            rows,
            ["scenario", "req/s", "p50 ms", "p99 ms", "statuses", "valid", "others %"],
        )
    )
    problems = {
        name: got["problems"]
        for name, got in figures.get("scenarios", {}).items()
        if got["problems"]
    }
    for name, found in problems.items():
        out.append(f"  INVALID {name}: " + "; ".join(found))

    out.append("\nRatios of requests/s, taken within each round, then the median")
    rows = []
    for target in THROUGHPUT_RATIOS:
        each = ratio_per_round(runs, "rounds", target.numerator, target.denominator)
        middle = median(r for r in each if r is not None)
        state = verdict(middle, least=target.least)
        rows.append(
            [
                target.title,
                " ".join(fmt(r) for r in each),
                fmt(middle),
                f">= {target.least:.2f}" if target.least else "",
                state,
            ]
        )
        if target.least:
            figures["targets"].append(
                {
                    "target": target.title,
                    "value": middle,
                    "least": target.least,
                    "verdict": state,
                }
            )
    out.append(table(rows, ["ratio", "per round", "median", "target", ""]))

    contention = facts.get("contention", [])
    if contention:
        executions = max((c["max_executions"] for c in contention), default=0)
        errors = sum(c["server_errors"] for c in contention)
        mismatched = [c for c in contention if c["orders_created"] != c["keys_issued"]]
        ok = executions <= 1 and errors == 0 and not mismatched
        out.append("\nContention: 16 connections sending each key at once")
        rows = [
            [
                str(c["round"]),
                str(c["keys_issued"]),
                str(c["orders_created"]),
                str(c["key_rows"]),
                str(c["max_executions"]),
                str(c["server_errors"]),
                statuses_text(c["statuses"]),
            ]
            for c in contention
        ]
        out.append(
            table(
                rows,
                [
                    "round",
                    "keys sent",
                    "orders made",
                    "key rows",
                    "max runs/key",
                    "5xx",
                    "statuses",
                ],
            )
        )
        state = "met" if ok else "MISSED"
        out.append(f"  zero 5xx and exactly one execution per key: {state}")
        figures["targets"].append(
            {"target": "contention: zero 5xx, one execution per key", "verdict": state}
        )

    scaling = facts.get("scaling")
    if scaling:
        counts = scaling["workers"]
        main = int(settings.get("workers", 4))
        out.append(
            f"\nWorkers: req/s by number of gunicorn workers, {scaling['rounds']} "
            f"interleaved round(s); the ratio is taken within each round"
        )
        rows = []
        for name in ["baseline", "keyed", "replay", "read"]:
            row = [titles[name]]
            for count in counts:
                got = scenario_figures(runs, f"workers-{count}", name)
                row.append(fmt(got["rps"], 1))
            for count in counts:
                if count == main:
                    continue
                each = [
                    a["rps"] / b["rps"]
                    for a, b in zip(
                        runs_of(runs, f"workers-{count}", name),
                        runs_of(runs, f"workers-{main}", name),
                        strict=False,
                    )
                    if a["valid"] and b["valid"] and b["rps"]
                ]
                row.append(fmt(median(each)))
            rows.append(row)
        header = ["scenario", *[f"{c} workers" for c in counts]]
        header += [f"{c}/{main}" for c in counts if c != main]
        out.append(table(rows, header))
        figures["scaling"] = {"header": header, "rows": rows}

    keys = facts.get("key_table")
    if keys:
        out.append(
            f"\nThe key table: {keys['fill']['expired_rows']:,} expired + "
            f"{keys['fill']['live_rows']:,} live keys over {keys['fill']['principals']:,} "
            f"principals, filled in {keys['fill']['fill_seconds']} s "
            f"(VACUUM ANALYZE {keys['fill']['vacuum_analyze_seconds']} s, "
            f"CHECKPOINT {keys['fill'].get('checkpoint_seconds', '-')} s), "
            f"{keys['fill']['total_size']} with indexes"
        )
        rows = []
        for name in ("baseline", "keyed"):
            empty = scenario_figures(runs, "table-empty", name)
            full = scenario_figures(runs, "table-full", name)
            rows.append(
                [
                    titles[name],
                    fmt(empty["rps"], 1),
                    fmt(full["rps"], 1),
                    fmt(empty["p99_ms"], 1),
                    fmt(full["p99_ms"], 1),
                ]
            )
        out.append(
            table(
                rows, ["scenario", "empty req/s", "full req/s", "empty p99", "full p99"]
            )
        )
        pairs = []
        for number in sorted({r["round"] for r in runs_of(runs, "table-full")}):
            empty = [
                r
                for r in runs_of(runs, "table-empty", "keyed")
                if r["round"] == number and r["valid"]
            ]
            full = [
                r
                for r in runs_of(runs, "table-full", "keyed")
                if r["round"] == number and r["valid"]
            ]
            if empty and full and empty[0]["rps"]:
                pairs.append(full[0]["rps"] / empty[0]["rps"])
        middle = median(pairs)
        base_empty = ratio_per_round(runs, "table-empty", "keyed", "baseline")
        base_full = ratio_per_round(runs, "table-full", "keyed", "baseline")
        normalised = median(
            f / e for e, f in zip(base_empty, base_full, strict=False) if e and f
        )
        state = verdict(middle, least=0.95)
        out.append(
            f"  keyed create, full / empty table, per round: "
            f"{' '.join(fmt(p) for p in pairs)}; median {fmt(middle)} "
            f"(target >= 0.95: {state})"
        )
        out.append(
            "  the same, each divided by the create without key measured beside it: "
            f"{fmt(normalised)}"
        )
        figures["targets"].append(
            {
                "target": "keyed create full / empty table",
                "value": middle,
                "least": 0.95,
                "verdict": state,
            }
        )
        figures["table_ratio_normalised"] = normalised

        purge = keys.get("purge")
        if purge:
            idle = median(
                r["p99_ms"] for r in runs_of(runs, "table-full", "keyed") if r["valid"]
            )
            during = purge["writers"]["p99_ms"] if purge["writers"]["valid"] else None
            ratio = during / idle if during and idle else None
            idle_rps = median(
                r["rps"] for r in runs_of(runs, "table-full", "keyed") if r["valid"]
            )
            out.append(
                f"  purge_idempotency_keys: {purge['deleted']:,} expired keys deleted in "
                f"{purge['seconds']:.1f} s ({verdict(purge['seconds'], most=30.0)} <= 30 s); "
                f"{purge['expired_left']:,} expired and {purge['rows_left']:,} rows left"
            )
            out.append(
                f"  writers during the purge: p99 {fmt(during, 1)} ms vs {fmt(idle, 1)} ms idle "
                f"= {fmt(ratio)}x ({verdict(ratio, most=2.0)} <= 2x); "
                f"{fmt(purge['writers']['rps'], 1)} req/s vs {fmt(idle_rps, 1)} idle; "
                f"statuses {statuses_text(purge['writers']['statuses'])}"
            )
            figures["targets"].append(
                {
                    "target": "purge seconds",
                    "value": purge["seconds"],
                    "most": 30.0,
                    "verdict": verdict(purge["seconds"], most=30.0),
                }
            )
            figures["targets"].append(
                {
                    "target": "writers p99 during purge / idle",
                    "value": ratio,
                    "most": 2.0,
                    "verdict": verdict(ratio, most=2.0),
                }
            )

    inspect = facts.get("inspect")
    if inspect:
        out.append(
            "\nSQL statements per request (Django's test client, same middleware)"
        )
        rows = [
            [
                name,
                str(got["status"]) + (" replayed" if got["replayed"] else ""),
                str(got["statements"]),
                str(got["without_savepoints"]),
                str(got["key_table"]),
            ]
            for name, got in inspect["counts"].items()
        ]
        out.append(
            table(
                rows,
                ["request", "status", "statements", "w/o savepoints", "on key table"],
            )
        )
        counts = inspect["counts"]
        added = (
            counts["create, keyed"]["without_savepoints"]
            - counts["create, no key"]["without_savepoints"]
        )
        replay = counts["replay of a stored key"]["without_savepoints"]
        out.append(
            f"  the key layer adds {added} queries to a create (target <= 2: "
            f"{verdict(added, most=2)}); a replay takes {replay} in all (target <= 3: "
            f"{verdict(replay, most=3)})"
        )
        figures["statements"] = {"added_to_create": added, "replay": replay}
        out.append("\nQuery plans on the full key table (EXPLAIN ANALYZE, rolled back)")
        rows = [
            [
                name,
                ", ".join(got["indexes"]) or "-",
                ", ".join(got["seq_scans"]) or "-",
                next(
                    (line.strip() for line in got["plan"] if "Execution Time" in line),
                    "",
                ),
            ]
            for name, got in inspect["explains"].items()
        ]
        out.append(table(rows, ["statement", "indexes", "seq scans", "time"]))

    missed = [t["target"] for t in figures["targets"] if t["verdict"] == "MISSED"]
    out.append(
        "\nTargets: "
        + (
            f"{len(figures['targets']) - len(missed)} met, {len(missed)} missed"
            + (": " + "; ".join(missed) if missed else "")
        )
    )
    return "\n".join(out) + "\n", figures
