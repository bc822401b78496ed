"""Migration operations for keys the ORM cannot declare: a wider primary key, a composite foreign key.

Django's model state keeps ``id`` as each model's primary key, so the ORM,
the admin and the URLs go on using it. In the database, a table distributed
by owner needs its primary key to span the owner too (Citus refuses a unique
constraint without the distribution column), and a foreign key to such a
table must name both columns. These operations change only the database,
and only on PostgreSQL: SQLite keeps the keys Django made.
"""

from typing import Any

from django.db import migrations
from django.db.migrations.state import ProjectState


def primary_key_set(
    schema_editor: Any, *, table: str, columns: tuple[str, ...]
) -> None:
    """Make the primary key of ``table`` span ``columns``, keeping its name.

    Two statements: Citus alters a distributed table with one subcommand at
    a time.
    """
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    name = next(
        (name for name, info in constraints.items() if info["primary_key"]),
        f"{table}_pkey",
    )
    quote = schema_editor.quote_name
    schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    schema_editor.execute(
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)}"
        f" PRIMARY KEY ({', '.join(quote(c) for c in columns)})"
    )


def _column(model: Any, field: str) -> str:
    return model._meta.get_field(field).column


class DatabasePrimaryKey(migrations.operations.base.Operation):
    """Make a model's primary key in the database span ``fields``, in that order.

    The model state is unchanged. Backwards, the key is ``previous`` again
    (``id`` alone by default).
    """

    reversible = True

    def __init__(
        self, model_name: str, fields: list[str], previous: list[str] | None = None
    ) -> None:
        self.model_name = model_name
        self.fields = fields
        self.previous = previous

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"model_name": self.model_name, "fields": self.fields}
        if self.previous is not None:
            kwargs["previous"] = self.previous
        return (self.__class__.__name__, [], kwargs)

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Leave the model state as it is: ``id`` stays the ORM's primary key."""

    def _apply(
        self,
        app_label: str,
        schema_editor: Any,
        state: ProjectState,
        fields: list[str],
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = state.apps.get_model(app_label, self.model_name)
        primary_key_set(
            schema_editor,
            table=model._meta.db_table,
            columns=tuple(_column(model, f) for f in fields),
        )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: Any,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._apply(app_label, schema_editor, to_state, self.fields)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: Any,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._apply(app_label, schema_editor, to_state, self.previous or ["id"])

    def describe(self) -> str:
        return f"Primary key of {self.model_name} in the database: {', '.join(self.fields)}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name.lower()}_primary_key"


class CompositeForeignKey(migrations.operations.base.Operation):
    """Add a foreign key over several columns, deferred like Django's own.

    ``fields`` of ``model_name`` reference ``to_fields`` of ``to`` (an
    ``app_label.ModelName``), in order.
    """

    reversible = True

    def __init__(
        self,
        model_name: str,
        name: str,
        fields: list[str],
        to: str,
        to_fields: list[str],
    ) -> None:
        self.model_name = model_name
        self.name = name
        self.fields = fields
        self.to = to
        self.to_fields = to_fields

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {
                "model_name": self.model_name,
                "name": self.name,
                "fields": self.fields,
                "to": self.to,
                "to_fields": self.to_fields,
            },
        )

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Leave the model state as it is: the ORM joins on the plain foreign key."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: Any,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        target = to_state.apps.get_model(self.to)
        quote = schema_editor.quote_name
        columns = ", ".join(quote(_column(model, f)) for f in self.fields)
        references = ", ".join(quote(_column(target, f)) for f in self.to_fields)
        schema_editor.execute(
            f"ALTER TABLE {quote(model._meta.db_table)} ADD CONSTRAINT"
            f" {quote(self.name)} FOREIGN KEY ({columns})"
            f" REFERENCES {quote(target._meta.db_table)} ({references})"
            " DEFERRABLE INITIALLY DEFERRED"
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: Any,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(model._meta.db_table)}"
            f" DROP CONSTRAINT {quote(self.name)}"
        )

    def describe(self) -> str:
        return f"Foreign key {self.name} on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return self.name.lower()


class RemoveCompositeForeignKey(CompositeForeignKey):
    """Drop a foreign key that ``CompositeForeignKey`` added; backwards, add it again.

    Takes the arguments it was added with, so a migration can drop it
    around a change of the key it references and add it back after.
    """

    def database_forwards(
        self,
        app_label: str,
        schema_editor: Any,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        super().database_backwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: Any,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"Remove foreign key {self.name} on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"remove_{self.name.lower()}"
