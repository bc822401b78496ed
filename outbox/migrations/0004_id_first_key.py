"""Put ``id`` first in the primary key of outbox messages.

``(id, owner_id)`` still holds the distribution column and serves a lookup
by ``id`` alone, which every hand-over and attempt makes.
"""

from django.db import migrations

from core.operations import DatabasePrimaryKey


class Migration(migrations.Migration):

    dependencies = [
        ("outbox", "0003_outbox_message_attempt_counts"),
    ]

    operations = [
        DatabasePrimaryKey(
            model_name="outboxmessage",
            fields=["id", "owner_id"],
            previous=["owner_id", "id"],
        ),
    ]
