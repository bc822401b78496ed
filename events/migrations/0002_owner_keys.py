"""Key events and deliveries by owner.

In PostgreSQL both primary keys become ``(owner_id, id)`` and the
deliveries' foreign key to their event becomes ``(owner_id, event_id) ->
events_event (owner_id, id)``, so both tables can be distributed by owner on
Citus, co-located with the owner's orders. The unique constraints that guard
a retry (an event per resource and sequence, a delivery per endpoint and
event) already hold the owner.
"""

import django.db.models.deletion
from django.db import migrations, models

from core.operations import CompositeForeignKey, DatabasePrimaryKey


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0001_events_and_webhooks"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="events.event",
            ),
        ),
        DatabasePrimaryKey(model_name="event", fields=["owner", "id"]),
        DatabasePrimaryKey(model_name="webhookdelivery", fields=["owner", "id"]),
        CompositeForeignKey(
            model_name="webhookdelivery",
            name="events_webhookdelivery_owner_event_fk",
            fields=["owner", "event"],
            to="events.Event",
            to_fields=["owner", "id"],
        ),
    ]
