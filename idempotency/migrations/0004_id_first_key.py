"""Put ``id`` first in the primary key of idempotency keys (PostgreSQL only).

``(id, owner_id)`` still holds the distribution column and serves the
purge's windows of ids. The only index that leads with the owner is the
unique ``(owner_id, scope, key)``, so a plan made while the table is small
cannot read every key of an owner to find one.
"""

from importlib import import_module

from django.db import migrations

_owner_keys = import_module("idempotency.migrations.0003_idempotencykey_owner")


def id_first(apps, schema_editor):
    _owner_keys._primary_key_set(schema_editor, ["id", "owner_id"])


def owner_first(apps, schema_editor):
    _owner_keys._primary_key_set(schema_editor, ["owner_id", "id"])


class Migration(migrations.Migration):

    dependencies = [
        ("idempotency", "0003_idempotencykey_owner"),
    ]

    operations = [
        migrations.RunPython(id_first, owner_first),
    ]
