"""Put ``id`` first in the primary keys of orders and their events.

``(id, owner_id)`` still holds the distribution column, and it serves a
lookup by ``id`` alone. No index leads with the owner alone any more: the
unique ``(owner_id, client_id)`` and the events' ``(owner_id, order_id)``
serve a user's rows, and a plan made while a table is small cannot pick a
shorter owner index and then read every row of the owner. The events'
foreign key is dropped around the change and added back.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.operations import (
    CompositeForeignKey,
    DatabasePrimaryKey,
    RemoveCompositeForeignKey,
)

EVENT_ORDER_FK = {
    "model_name": "orderevent",
    "name": "orders_orderevent_owner_order_fk",
    "fields": ["owner", "order"],
    "to": "orders.Order",
    "to_fields": ["owner", "id"],
}


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0003_owner_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="orders",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="orderevent",
            index=models.Index(
                fields=["owner", "order"], name="orders_orderevent_owner_order"
            ),
        ),
        RemoveCompositeForeignKey(**EVENT_ORDER_FK),
        DatabasePrimaryKey(
            model_name="order", fields=["id", "owner"], previous=["owner", "id"]
        ),
        DatabasePrimaryKey(
            model_name="orderevent", fields=["id", "owner"], previous=["owner", "id"]
        ),
        CompositeForeignKey(**EVENT_ORDER_FK),
    ]
