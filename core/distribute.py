"""Turn the tables into what their plans say on a Citus coordinator: the only Citus SQL.

Citus makes a table distributed, reference or coordinator-local in place,
copying its rows. Two of its rules decide the order. A foreign key between a
plain table and a reference table makes Citus turn the plain table into a
coordinator-local one on its own, and a table with an identity column (every
``id`` here) cannot be converted again afterwards; so every foreign key that
touches a table about to change is dropped first and added back, with the
same name and definition, once every table is in place. And with foreign keys
to reference tables in one transaction, Citus must use one connection per
node, so the transaction asks for it (``multi_shard_modify_mode``).
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.citus import CoordinatorLocal, Distributed, Reference, TablePlan

#: What ``citus_tables.citus_table_type`` says for each kind of plan.
_CITUS_TYPE = {
    "distributed": "distributed",
    "reference": "reference",
    "coordinator_local": "local",
}


class NotCitus(Exception):
    """The database is not a Citus coordinator."""


class PlanConflict(Exception):
    """A table is already a Citus table of another kind than its plan says."""


@dataclass(frozen=True)
class CitusTable:
    """What Citus says of one table: its type and distribution column (or None)."""

    kind: str
    column: str | None


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key as PostgreSQL gives it back: enough to drop and add it again."""

    table: str
    name: str
    definition: str
    referenced: str


def citus_installed(connection: Any) -> bool:
    """Return whether the database has the citus extension."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


def citus_tables(connection: Any) -> dict[str, CitusTable]:
    """Return the Citus tables of the current schema, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.citus_table_type, t.distribution_column"
            " FROM citus_tables t JOIN pg_class c ON c.oid = t.table_name"
            " WHERE c.relnamespace = current_schema()::regnamespace"
        )
        return {
            name: CitusTable(kind, None if column == "<none>" else column)
            for name, kind, column in cursor.fetchall()
        }


def foreign_keys(connection: Any, tables: set[str]) -> list[ForeignKey]:
    """Return the foreign keys from or to any of ``tables``, in a stable order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, c.conname,"
            " pg_get_constraintdef(c.oid), c.confrelid::regclass::text"
            " FROM pg_constraint c WHERE c.contype = 'f'"
            " AND c.connamespace = current_schema()::regnamespace"
            " AND (c.conrelid::regclass::text = ANY(%s)"
            " OR c.confrelid::regclass::text = ANY(%s))"
            " ORDER BY 1, 2",
            [sorted(tables), sorted(tables)],
        )
        return [ForeignKey(*row) for row in cursor.fetchall()]


def describe(plan: TablePlan) -> str:
    """Return what the plan makes of the table, in words."""
    if isinstance(plan.plan, Distributed):
        return f"distributed by {plan.column}"
    if isinstance(plan.plan, Reference):
        return "a reference table"
    return "on the coordinator only"


def _matches(plan: TablePlan, table: CitusTable) -> bool:
    if table.kind != _CITUS_TYPE[plan.plan.kind]:
        return False
    return not isinstance(plan.plan, Distributed) or table.column == plan.column


def _in_order(plans: list[TablePlan], keys: list[ForeignKey]) -> list[TablePlan]:
    """Return reference tables, then coordinator-local ones, then distributed ones, referenced first."""
    local = [p for p in plans if isinstance(p.plan, Reference)]
    local += [p for p in plans if isinstance(p.plan, CoordinatorLocal)]
    pending = [p for p in plans if isinstance(p.plan, Distributed)]
    done: set[str] = set()
    ordered = []
    while pending:
        names = {p.table for p in pending}
        ready = [
            p
            for p in pending
            if not any(
                k.table == p.table and k.referenced in names - {p.table} for k in keys
            )
        ] or pending[:1]
        for p in ready:
            ordered.append(p)
            done.add(p.table)
        pending = [p for p in pending if p.table not in done]
    return local + ordered


def _convert(connection: Any, plan: TablePlan, colocate_with: str) -> None:
    with connection.cursor() as cursor:
        if isinstance(plan.plan, Distributed):
            cursor.execute(
                "SELECT create_distributed_table(%s, %s, colocate_with => %s)",
                [plan.table, plan.column, colocate_with],
            )
        elif isinstance(plan.plan, Reference):
            cursor.execute("SELECT create_reference_table(%s)", [plan.table])
        elif isinstance(plan.plan, CoordinatorLocal):
            cursor.execute("SELECT citus_add_local_table_to_metadata(%s)", [plan.table])


def tables_distribute(
    connection: Any, plans: list[TablePlan]
) -> list[tuple[TablePlan, bool]]:
    """Make every table what its plan says; return each plan with whether it changed.

    The plans come back in the order tables are converted: reference and
    coordinator-local tables first, then distributed ones, referenced first.

    Distributed tables are co-located with the tables already distributed by
    a column of the same name, or with the first such table of this run. All
    of it is one transaction. Raise NotCitus without the citus extension, and
    PlanConflict (changing nothing) when a table is a Citus table of another
    kind than its plan.
    """
    if not citus_installed(connection):
        raise NotCitus("the database has no citus extension")
    current = citus_tables(connection)
    conflicts = [
        f"{p.table} is a {current[p.table].kind} table, its plan says {describe(p)}"
        for p in plans
        if p.table in current and not _matches(p, current[p.table])
    ]
    if conflicts:
        raise PlanConflict("; ".join(conflicts))
    todo = [p for p in plans if p.table not in current]
    keys = foreign_keys(connection, {p.table for p in todo}) if todo else []
    anchors = {
        table.column: name
        for name, table in sorted(current.items())
        if table.kind == "distributed"
    }
    with transaction.atomic(using=connection.alias):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            for key in keys:
                cursor.execute(
                    f"ALTER TABLE {quote(key.table)} DROP CONSTRAINT {quote(key.name)}"
                )
        for plan in _in_order(todo, keys):
            anchor = anchors.setdefault(plan.column, plan.table)
            _convert(connection, plan, "none" if anchor == plan.table else anchor)
        with connection.cursor() as cursor:
            for key in keys:
                cursor.execute(
                    f"ALTER TABLE {quote(key.table)} ADD CONSTRAINT {quote(key.name)}"
                    f" {key.definition}"
                )
    with connection.cursor() as cursor:
        for plan in todo:
            if not isinstance(plan.plan, CoordinatorLocal):
                # The rows were copied to the shards; the coordinator's own
                # copy is no longer read.
                cursor.execute(
                    "SELECT truncate_local_data_after_distributing_table(%s)",
                    [plan.table],
                )
    changed = {p.table for p in todo}
    return [(p, p.table in changed) for p in _in_order(plans, keys)]


#: The database default that lets one transaction modify a reference table
#: after distributed rows (a user or an endpoint deleted with what cascades).
SEQUENTIAL_MODIFY = "citus.multi_shard_modify_mode=sequential"


def sequential_modify_default(connection: Any) -> bool:
    """Make multi-shard modifications sequential in every new session; return whether it changed.

    Citus refuses, in one transaction, a change to a reference table after a
    change to many shards made in parallel, which is what Django's cascade
    does when it deletes a user or a webhook endpoint: their rows on the
    shards first, then the row itself. Sequential, one connection per node,
    Citus allows it. Set as the database's default, so every process and
    every pooled connection gets it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_db_role_setting s JOIN pg_database d"
            " ON d.oid = s.setdatabase WHERE d.datname = current_database()"
            " AND s.setrole = 0 AND %s = ANY(s.setconfig)",
            [SEQUENTIAL_MODIFY],
        )
        if cursor.fetchone() is not None:
            return False
        cursor.execute("SELECT current_database()")
        name = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(
            f"ALTER DATABASE {name} SET citus.multi_shard_modify_mode TO 'sequential'"
        )
    return True
