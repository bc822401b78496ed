"""In PostgreSQL, key webhook events by ``(event_id, id)``: the table is distributed by event id."""

from django.db import migrations

from core.operations import DatabasePrimaryKey


class Migration(migrations.Migration):

    dependencies = [
        ("webhooks", "0002_webhookevent_source"),
    ]

    operations = [
        DatabasePrimaryKey(model_name="webhookevent", fields=["event_id", "id"]),
    ]
