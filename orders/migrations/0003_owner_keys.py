"""Key orders and their events by owner.

In PostgreSQL both primary keys become ``(owner_id, id)`` and the events'
foreign key becomes ``(owner_id, order_id) -> orders_order (owner_id, id)``,
so both tables can be distributed by owner on Citus. A migration of its own:
PostgreSQL alters no table with the previous one's deferred checks pending.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.operations import CompositeForeignKey, DatabasePrimaryKey


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0002_orderevent_owner"),
    ]

    operations = [
        migrations.AlterField(
            model_name="orderevent",
            name="owner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="order",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="orders.order",
            ),
        ),
        DatabasePrimaryKey(model_name="order", fields=["owner", "id"]),
        DatabasePrimaryKey(model_name="orderevent", fields=["owner", "id"]),
        CompositeForeignKey(
            model_name="orderevent",
            name="orders_orderevent_owner_order_fk",
            fields=["owner", "order"],
            to="orders.Order",
            to_fields=["owner", "id"],
        ),
    ]
