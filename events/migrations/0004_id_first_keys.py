"""Put ``id`` first in the primary keys of events and deliveries.

``(id, owner_id)`` still holds the distribution column and serves a lookup
by ``id`` alone, which the relay and the delivery task make. The unique
constraints that lead with the owner serve a user's rows, so the index on
the owner alone goes. The deliveries' foreign key to their event is dropped
around the change and added back.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.operations import (
    CompositeForeignKey,
    DatabasePrimaryKey,
    RemoveCompositeForeignKey,
)

DELIVERY_EVENT_FK = {
    "model_name": "webhookdelivery",
    "name": "events_webhookdelivery_owner_event_fk",
    "fields": ["owner", "event"],
    "to": "events.Event",
    "to_fields": ["owner", "id"],
}


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0003_delivery_in_flight_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        RemoveCompositeForeignKey(**DELIVERY_EVENT_FK),
        DatabasePrimaryKey(
            model_name="event", fields=["id", "owner"], previous=["owner", "id"]
        ),
        DatabasePrimaryKey(
            model_name="webhookdelivery",
            fields=["id", "owner"],
            previous=["owner", "id"],
        ),
        CompositeForeignKey(**DELIVERY_EVENT_FK),
    ]
