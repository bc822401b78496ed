"""The scenarios: each one's wrk script, account and expected statuses, and titles."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    """One kind of load: its wrk script, who sends it and the statuses it may get."""

    name: str
    title: str
    script: str
    account: str
    expected: frozenset[int]
    all_replayed: bool = False
    contention: bool = False

    def problems(self, result: dict[str, Any], statuses: dict[str, int]) -> list[str]:
        """Return what makes a wrk run of this scenario invalid, if anything."""
        problems = []
        if not result["requests"]:
            problems.append("no request completed")
        for code, count in statuses.items():
            if int(code) not in self.expected:
                problems.append(f"unexpected status {code} x{count}")
        errors = {k: int(v) for k, v in result["errors"].items() if k != "status" and v}
        if errors:
            problems.append(f"socket errors {errors}")
        replayed = int(result["replayed"])
        if self.all_replayed and replayed != result["requests"]:
            problems.append(
                f"{int(result['requests']) - replayed} replies not replayed"
            )
        if not self.all_replayed and not self.contention and replayed:
            problems.append(f"{replayed} fresh requests replayed")
        return problems


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "baseline",
            "order create, no key",
            "order_create.lua",
            "orders",
            frozenset({201}),
        ),
        Scenario(
            "keyed",
            "order create, fresh key",
            "order_create.lua",
            "orders",
            frozenset({201}),
        ),
        Scenario(
            "retry",
            "order retry by client_id",
            "order_retry.lua",
            "orders",
            frozenset({200}),
        ),
        Scenario(
            "replay",
            "replay of a stored key",
            "order_replay.lua",
            "orders",
            frozenset({200}),
            all_replayed=True,
        ),
        Scenario(
            "read",
            "GET /api/orders/{id}/",
            "order_read.lua",
            "orders",
            frozenset({200}),
        ),
        Scenario(
            "photo",
            "photo create, JSON",
            "photo_create.lua",
            "photos",
            frozenset({201}),
        ),
        Scenario(
            "upload",
            "photo create, multipart 100 KB",
            "photo_upload.lua",
            "photos",
            frozenset({201}),
        ),
        Scenario(
            "contention",
            "16 connections, same keys",
            "contention.lua",
            "contention",
            frozenset({200, 201, 409}),
            contention=True,
        ),
    )
}
TITLES = {name: scenario.title for name, scenario in SCENARIOS.items()}
# The order of a round, in blocks: scenarios whose ratio has a target run back
# to back, so that the drift of a shared machine between two runs is seconds,
# not minutes. The blocks rotate from round to round, and so does the order
# inside each block.
ROUND_BLOCKS = [
    ("baseline", "keyed"),
    ("replay", "read"),
    ("retry",),
    ("photo",),
    ("upload",),
    ("contention",),
]
assert sorted(n for block in ROUND_BLOCKS for n in block) == sorted(SCENARIOS)
SCALING_SCENARIOS = ["baseline", "keyed", "replay", "read"]
