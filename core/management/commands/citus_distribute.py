"""``manage.py citus_distribute``: make each table what its plan says on a Citus coordinator."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from core.citus import PlanError, table_plans
from core.distribute import (
    NotCitus,
    PlanConflict,
    describe,
    sequential_modify_default,
    tables_distribute,
)


class Command(BaseCommand):
    """Distribute, replicate or keep on the coordinator every table, once."""

    help = (
        "Make each table distributed (by owner, co-located), a reference table or "
        "coordinator-local on the Citus coordinator, following the plans declared "
        "next to the models. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The database to work on (default: %(default)s).",
        )

    def handle(self, *args: Any, database: str, **options: Any) -> None:
        connection = connections[database]
        try:
            results = tables_distribute(connection, table_plans())
        except NotCitus as exc:
            raise CommandError(
                f"{exc}: citus_distribute needs a Citus coordinator"
            ) from exc
        except (PlanError, PlanConflict) as exc:
            raise CommandError(str(exc)) from exc
        for plan, changed in results:
            done = describe(plan) if changed else f"already {describe(plan)}"
            self.stdout.write(f"{plan.table}: {done}")
        sequential = sequential_modify_default(connection)
        setting = "multi-shard modifications sequential by default"
        self.stdout.write(
            f"database: {setting}" if sequential else f"database: already {setting}"
        )
        if not sequential and not any(changed for _, changed in results):
            self.stdout.write("Nothing changed.")
