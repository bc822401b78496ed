"""The scenarios: each one's wrk script, account and expected statuses; round orders."""

from dataclasses import dataclass

from wrk import Summary


@dataclass(frozen=True)
class Scenario:
    """One kind of load: its wrk script, who sends it and the statuses it may get."""

    name: str
    title: str
    script: str
    expected: tuple[int, ...] = (201,)
    account: str = "orders"

    def problems(self, got: Summary) -> list[str]:
        """Return what makes a run of this scenario invalid, if anything."""
        found = [
            f"unexpected status {code} x{n}"
            for code, n in got.statuses.items()
            if int(code) not in self.expected
        ]
        if not got.requests:
            found.append("no request completed")
        if errors := {k: v for k, v in got.errors.items() if v}:
            found.append(f"socket errors {errors}")
        if self.name == "replay" and got.replayed != got.requests:
            found.append(f"{got.requests - got.replayed} replies not replayed")
        if self.name not in ("replay", "contention") and got.replayed:
            found.append(f"{got.replayed} fresh requests replayed")
        if twice := sum(1 for n in got.executions.values() if n > 1):
            found.append(f"{twice} keys executed more than once")
        return found


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("baseline", "order create, no key", "order_create.lua"),
        Scenario("keyed", "order create, fresh key", "order_create.lua"),
        Scenario("retry", "order retry by client_id", "order_retry.lua", (200,)),
        Scenario("replay", "replay of a stored key", "order_replay.lua", (200,)),
        Scenario("read", "GET /api/orders/{id}/", "order_read.lua", (200,)),
        Scenario("photo", "photo create, JSON", "photo_create.lua", account="photos"),
        Scenario(
            "upload",
            "photo create, multipart 100 KB",
            "photo_upload.lua",
            account="photos",
        ),
        Scenario(
            "contention",
            "16 connections, same keys",
            "contention.lua",
            (200, 201, 409),
            "contention",
        ),
    )
}
# A round in blocks: the scenarios a target compares run together, so the two
# runs of a ratio are seconds apart, not minutes.
ROUND_BLOCKS = [("baseline", "keyed"), ("replay", "read")]
ROUND_BLOCKS += [(name,) for name in ("retry", "photo", "upload", "contention")]


def round_order(number: int) -> list[list[tuple[str, str]]]:
    """Return the (phase, scenario) blocks of round ``number`` (from 0), in order.

    The blocks rotate by one from round to round; the order inside a block
    alternates.
    """
    shift = number % len(ROUND_BLOCKS)
    turn = number % 2
    blocks = ROUND_BLOCKS[shift:] + ROUND_BLOCKS[:shift]
    return [
        [("rounds", name) for name in block[turn:] + block[:turn]] for block in blocks
    ]


def table_round_order(number: int) -> list[list[tuple[str, str]]]:
    """Return the (phase, scenario) blocks of key-table round ``number`` (from 0).

    The two keyed creates run first, then the two creates without key with the
    tables in the opposite order; the table that goes first alternates.
    """
    first, second = ("empty", "full") if number % 2 == 0 else ("full", "empty")
    return [
        [(f"table-{first}", "keyed"), (f"table-{second}", "keyed")],
        [(f"table-{second}", "baseline"), (f"table-{first}", "baseline")],
    ]
