"""``manage.py import_orders FILE.csv --owner EMAIL``: re-import orders from a CSV file."""

import csv
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.serializers import OrderBatchSerializer
from orders.services import IMPORT_BATCH_MAX, ImportItem, ImportOutcome, orders_import

COLUMNS = ("client_id", "product_id", "quantity")
# Bad rows printed before the command stops; the rest are only counted.
SHOWN_ERRORS = 20


@dataclass(frozen=True)
class RowError:
    """A field error of the row on ``line`` of the file."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class Line:
    """A checked row of the file: its line number and its item."""

    line: int
    item: ImportItem


@dataclass(frozen=True)
class Batch:
    """Up to IMPORT_BATCH_MAX rows of the file: their items, or their errors."""

    items: list[Line]
    errors: list[RowError]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, row)`` for each data row; raise CommandError on a bad header."""
    try:
        # utf-8-sig: a byte-order mark, as spreadsheets write it, is not data.
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            missing = [
                name for name in COLUMNS if name not in (reader.fieldnames or ())
            ]
            if missing:
                raise CommandError(
                    f"{path}: the first line must name the columns "
                    f"{','.join(COLUMNS)} (missing: {', '.join(missing)})"
                )
            for row in reader:
                yield reader.line_num, row
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"{path}: {exc}") from exc


def _batches(path: Path, size: int) -> Iterator[Batch]:
    """Yield the file's rows in batches, each checked as the batch endpoint checks it."""
    rows = _rows(path)
    while chunk := list(islice(rows, size)):
        params = OrderBatchSerializer(data={"orders": [row for _, row in chunk]})
        if params.is_valid():
            items = [
                Line(line=line, item=ImportItem(**item))
                for (line, _), item in zip(
                    chunk, params.validated_data["orders"], strict=True
                )
            ]
            yield Batch(items=items, errors=[])
            continue
        errors = [
            RowError(line=chunk[int(index)][0], field=name, message=str(message))
            for index, fields in params.errors["orders"].items()
            for name, messages in fields.items()
            for message in messages
        ]
        yield Batch(items=[], errors=errors)


@dataclass
class Check:
    """The outcome of checking a file: how many errors, and the first few."""

    count: int = 0
    shown: list[RowError] = field(default_factory=list)


def _check(path: Path, spool: TextIO) -> Check:
    """Check every row of ``path``; write the checked items to ``spool``.

    ``spool`` is complete only when no row has an error.
    """
    writer = csv.writer(spool)
    check = Check()
    for batch in _batches(path, IMPORT_BATCH_MAX):
        check.count += len(batch.errors)
        check.shown.extend(batch.errors[: SHOWN_ERRORS - len(check.shown)])
        if not check.count:
            writer.writerows(
                (row.line, row.item.client_id, row.item.product_id, row.item.quantity)
                for row in batch.items
            )
    return check


def _checked_batches(spool: TextIO) -> Iterator[list[Line]]:
    """Yield the checked rows written by ``_check``, IMPORT_BATCH_MAX at a time."""
    spool.seek(0)
    rows = csv.reader(spool)
    while chunk := list(islice(rows, IMPORT_BATCH_MAX)):
        yield [
            Line(
                line=int(line),
                item=ImportItem(
                    client_id=client_id, product_id=int(product), quantity=int(qty)
                ),
            )
            for line, client_id, product, qty in chunk
        ]


class Command(BaseCommand):
    """Create the owner's orders of a CSV file once; print the three counts."""

    help = (
        "Import orders from a CSV file whose first line is "
        "client_id,product_id,quantity, as POST /api/orders/batch/ would, in "
        "batches. A row whose client_id exists is left as it is (existing, or "
        "mismatch for another product or quantity, named on standard error), "
        "so a second run creates nothing. A file with a bad row imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument(
            "--owner", required=True, help="E-mail of the user who owns the orders."
        )

    def handle(self, *args: Any, file: Path, owner: str, **options: Any) -> None:
        try:
            user = get_user_model().objects.with_email(owner).get()
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user has the e-mail {owner!r}.") from exc
        # Every row is checked before the first is written, so a file with a
        # bad row imports nothing. The checked rows wait in a temporary file,
        # which keeps memory flat whatever the file's size and spares the
        # import a second validation.
        with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as spool:
            check = _check(file, spool)
            if check.count:
                self._refuse(file, check)
            counts = self._import(file, spool, owner=user)
        self.stdout.write(
            ", ".join(f"{outcome} {counts[outcome]}" for outcome in ImportOutcome)
        )

    def _refuse(self, file: Path, check: Check) -> None:
        """Print the first errors of the file and raise CommandError."""
        for error in check.shown:
            self.stderr.write(f"{file}:{error.line}: {error.field}: {error.message}")
        if check.count > len(check.shown):
            self.stderr.write(f"... and {check.count - len(check.shown)} more errors")
        raise CommandError(f"{file} has {check.count} error(s); nothing imported.")

    def _import(self, file: Path, spool: TextIO, *, owner: Any) -> Counter[str]:
        """Import the checked rows; name each mismatch on standard error; count outcomes."""
        counts: Counter[str] = Counter()
        for rows in _checked_batches(spool):
            results = orders_import(owner=owner, items=[row.item for row in rows])
            for row, result in zip(rows, results, strict=True):
                counts[result.outcome] += 1
                if result.outcome == ImportOutcome.MISMATCH:
                    self.stderr.write(
                        f"{file}:{row.line}: client_id {row.item.client_id!r}: "
                        "mismatch, its order has another product or quantity"
                    )
        return counts
