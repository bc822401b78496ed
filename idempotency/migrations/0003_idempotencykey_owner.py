"""Key each idempotency key by a typed owner and a scope instead of a text principal.

``user:<id>`` becomes owner ``<id>``; ``anonymous`` becomes owner 0; a
function call's ``function:<name>`` becomes owner 0 with that scope. The
unique constraint becomes ``(owner_id, scope, key)`` and, in PostgreSQL, the
primary key ``(owner_id, id)``, so the table can be distributed by owner.
Backwards, the principal is rebuilt from the owner and the scope.
"""

from django.db import migrations, models


def owners_fill(apps, schema_editor):
    IdempotencyKey = apps.get_model("idempotency", "IdempotencyKey")
    keys = IdempotencyKey.objects.exclude(principal="anonymous")
    for principal in keys.values_list("principal", flat=True).distinct().iterator():
        kind, _, ident = principal.partition(":")
        if kind == "user" and ident.isdigit():
            fields = {"owner_id": int(ident)}
        else:
            fields = {"scope": principal}
        IdempotencyKey.objects.filter(principal=principal).update(**fields)


def principals_fill(apps, schema_editor):
    IdempotencyKey = apps.get_model("idempotency", "IdempotencyKey")
    IdempotencyKey.objects.exclude(scope="").update(principal=models.F("scope"))
    IdempotencyKey.objects.filter(scope="", owner_id=0).update(principal="anonymous")
    IdempotencyKey.objects.filter(scope="").exclude(owner_id=0).update(
        principal=models.functions.Concat(
            models.Value("user:"),
            models.functions.Cast("owner_id", models.CharField()),
        )
    )


def _primary_key_set(schema_editor, columns):
    """Make the table's primary key span ``columns`` (PostgreSQL only).

    Two statements: Citus alters a distributed table with one subcommand at
    a time.
    """
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = "idempotency_idempotencykey"
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    name = next(n for n, info in constraints.items() if info["primary_key"])
    quote = schema_editor.quote_name
    schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    schema_editor.execute(
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)}"
        f" PRIMARY KEY ({', '.join(quote(c) for c in columns)})"
    )


def primary_key_with_owner(apps, schema_editor):
    _primary_key_set(schema_editor, ["owner_id", "id"])


def primary_key_alone(apps, schema_editor):
    _primary_key_set(schema_editor, ["id"])


class Migration(migrations.Migration):

    dependencies = [
        ("idempotency", "0002_hmac_fingerprints"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencykey",
            name="principal",
            field=models.CharField(default="", max_length=255),
        ),
        migrations.RemoveConstraint(
            model_name="idempotencykey",
            name="idempotency_idempotencykey_principal_key_uniq",
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="owner_id",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="scope",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.RunPython(owners_fill, principals_fill),
        migrations.RemoveField(
            model_name="idempotencykey",
            name="principal",
        ),
        migrations.AddConstraint(
            model_name="idempotencykey",
            constraint=models.UniqueConstraint(
                fields=("owner_id", "scope", "key"),
                name="idempotency_idempotencykey_owner_scope_key_uniq",
            ),
        ),
        migrations.RunPython(primary_key_with_owner, primary_key_alone),
    ]
