"""Where each table lives on Citus: the plans models declare, and the plans of others' tables.

A model states its plan next to its fields, as the class attribute
``distribution``: ``Distributed(by="owner")``, ``Reference()`` or
``CoordinatorLocal()``. An app that imports nothing of this project (the
``idempotency`` app) may write the same plan as plain data, the dataclass's
fields: ``{"kind": "distributed", "by": "owner_id"}``.

- Distributed: the rows are spread over the workers by the field ``by``.
  Tables distributed by columns of one name share their shards (they are
  co-located), so a user's orders, order events, photos, keys and outbox
  rows sit on one shard.
- Reference: a full copy on every node; for small tables read by every
  request or shared by all (users, tokens, content types, permissions).
- CoordinatorLocal: on the coordinator only, for state no worker needs (the
  cache, sessions, the admin log).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models


@dataclass(frozen=True)
class Distributed:
    """Spread the table over the workers by the field ``by``."""

    by: str
    kind: str = "distributed"


@dataclass(frozen=True)
class Reference:
    """Keep a full copy of the table on every node."""

    kind: str = "reference"


@dataclass(frozen=True)
class CoordinatorLocal:
    """Keep the table on the coordinator only."""

    kind: str = "coordinator_local"


Plan = Distributed | Reference | CoordinatorLocal

#: The plans of the tables whose models are not this project's, by model label.
THIRD_PARTY_PLANS: dict[str, Plan] = {
    "auth.Permission": Reference(),
    "auth.Group": Reference(),
    "contenttypes.ContentType": Reference(),
    "authtoken.Token": Reference(),
    "sessions.Session": CoordinatorLocal(),
    "admin.LogEntry": CoordinatorLocal(),
    # Failed logins, counted by client address, only at the token endpoint.
    "axes.AccessAttempt": CoordinatorLocal(),
    "axes.AccessAttemptExpiration": CoordinatorLocal(),
    "axes.AccessFailureLog": CoordinatorLocal(),
    "axes.AccessLog": CoordinatorLocal(),
}


class PlanError(ValueError):
    """A model has no plan, or one the command cannot read."""


def plan_parse(value: Any, *, label: str) -> Plan:
    """Return the plan ``value`` states: a plan, or its fields as a mapping.

    Raise PlanError for anything else.
    """
    if isinstance(value, Distributed | Reference | CoordinatorLocal):
        return value
    if isinstance(value, Mapping):
        kinds: dict[str, type[Plan]] = {
            "distributed": Distributed,
            "reference": Reference,
            "coordinator_local": CoordinatorLocal,
        }
        kind = kinds.get(value.get("kind", ""))
        if kind is not None:
            try:
                return kind(**value)
            except TypeError as exc:
                raise PlanError(f"{label}: {exc}") from exc
    raise PlanError(f"{label}: {value!r} is not a distribution plan")


def model_plan(model: type[models.Model]) -> Plan:
    """Return the plan of the table of ``model``.

    An automatic many-to-many table takes the plan of the model that declares
    the field. Raise PlanError when there is none.
    """
    label = model._meta.label
    if label in THIRD_PARTY_PLANS:
        return THIRD_PARTY_PLANS[label]
    declared = model.__dict__.get("distribution")
    if declared is not None:
        return plan_parse(declared, label=label)
    source = model._meta.auto_created
    if source:
        return model_plan(source)
    raise PlanError(f"{label} has no distribution plan")


@dataclass(frozen=True)
class TablePlan:
    """One table's plan, with the column it is distributed by (if any)."""

    table: str
    plan: Plan
    column: str | None = None
    model: type[models.Model] | None = None


def cache_tables() -> list[str]:
    """Return the tables of the database caches in CACHES."""
    return sorted(
        cache["LOCATION"]
        for cache in settings.CACHES.values()
        if cache["BACKEND"].endswith("db.DatabaseCache")
    )


def _concrete_models() -> Iterator[type[models.Model]]:
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and not meta.swapped:
            yield model


def table_plans() -> list[TablePlan]:
    """Return the plan of every table this project's migrations make, by table name.

    Raise PlanError for a table without a plan, or distributed by a field it
    does not have.
    """
    plans: dict[str, TablePlan] = {}
    missing = []
    for model in _concrete_models():
        try:
            plan = model_plan(model)
        except PlanError:
            missing.append(model._meta.label)
            continue
        column = None
        if isinstance(plan, Distributed):
            try:
                column = model._meta.get_field(plan.by).column
            except models.FieldDoesNotExist as exc:
                raise PlanError(
                    f"{model._meta.label} is distributed by {plan.by!r}, which it lacks"
                ) from exc
        plans[model._meta.db_table] = TablePlan(
            table=model._meta.db_table, plan=plan, column=column, model=model
        )
    if missing:
        raise PlanError(f"no distribution plan for {', '.join(sorted(missing))}")
    for table in cache_tables():
        plans[table] = TablePlan(table=table, plan=CoordinatorLocal())
    return sorted(plans.values(), key=lambda p: p.table)
