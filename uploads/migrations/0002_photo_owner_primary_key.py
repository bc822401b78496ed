"""In PostgreSQL, key photos by ``(owner_id, id)`` so the table can be distributed by owner."""

from django.db import migrations

from core.operations import DatabasePrimaryKey


class Migration(migrations.Migration):

    dependencies = [
        ("uploads", "0001_photo"),
    ]

    operations = [
        DatabasePrimaryKey(model_name="photo", fields=["owner", "id"]),
    ]
